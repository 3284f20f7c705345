#!/usr/bin/env python3
"""Derives netbootd's keyword schema from Kea's own bison grammar.

Reads src/bin/dhcp4/dhcp4_parser.yy at a Kea release tag and writes, as JSON, which keys each
map of kea-dhcp4.conf accepts, the shape of each value (integer, string, enum of keywords,
nested map or list), which keys a map requires (Parser4Context::require calls) and the
context name Kea prints in "got unexpected keyword" errors (Parser4Context::contextName in
src/bin/dhcp4/parser_context.cc). No Kea code is copied: only key names and shapes.

    ci/kea-grammar.py KEA_GIT_DIR TAG > server/src/kea/grammar/kea-X.Y.json
"""
import json
import re
import subprocess
import sys


def show(git, tag, path):
    return subprocess.run(["git", "-C", git, "show", f"{tag}:{path}"],
                          check=True, capture_output=True, text=True).stdout


def strip_comments(text):
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def tokenize(body):
    """Symbols, '|', ';', ':' and ('ACTION', text) items of the rules section."""
    items, i, n = [], 0, len(body)
    while i < n:
        c = body[i]
        if c.isspace():
            i += 1
        elif c == "{":
            depth, j = 0, i
            while j < n:
                if body[j] in "\"'":
                    q = body[j]
                    j += 1
                    while j < n and body[j] != q:
                        j += 2 if body[j] == "\\" else 1
                elif body[j] == "{":
                    depth += 1
                elif body[j] == "}":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            items.append(("ACTION", body[i:j + 1]))
            i = j + 1
        elif c in "|;:":
            items.append(c)
            i += 1
        else:
            m = re.match(r"%?[A-Za-z_][A-Za-z0-9_]*|\S", body[i:])
            items.append(m.group(0))
            i += len(m.group(0))
    return items


def rules_of(yy):
    parts = strip_comments(yy).split("\n%%")
    items = tokenize(parts[1])
    rules, k = {}, 0
    while k < len(items):
        name = items[k]
        if isinstance(name, str) and name.startswith("%"):
            while items[k] != ";":
                k += 1
            k += 1
            continue
        assert items[k + 1] == ":", (name, items[k + 1])
        k += 2
        alts, cur = [], []
        while items[k] != ";":
            if k + 1 < len(items) and items[k + 1] == ":":
                k -= 1  # a rule bison let end without ';'
                break
            if items[k] == "|":
                alts.append(cur)
                cur = []
            else:
                cur.append(items[k])
            k += 1
        alts.append(cur)
        rules[name] = alts
        k += 1
    return rules


def tokens_of(yy):
    names = {}
    for m in re.finditer(r'^\s*(?:%token(?:\s*<[^>]*>)?\s+)?([A-Z][A-Z0-9_]*)\s+"((?:[^"\\]|\\.)*)"',
                         yy, re.M):
        names[m.group(1)] = m.group(2).replace('\\"', '"')
    return names


CONTEXT_NAMES = {}
LITERALS = {}


def lexer_literals(ll):
    """Token -> (literal, case-insensitive) from dhcp4_lexer.ll's keyword rules."""
    pattern = re.compile(r'^(\(\?i:)?\\"([^"\\]+)\\"\)?\s*\{(.*?)^\}', re.M | re.S)
    for m in pattern.finditer(ll):
        contexts = set(re.findall(r"Parser4Context::(\w+)\b", m.group(3)))
        for tok in re.findall(r"make_(\w+)\(", m.group(3)):
            if tok != "STRING":
                lit = ("i:" if m.group(1) else "") + m.group(2)
                LITERALS.setdefault(tok, []).append((lit, contexts))


def context_names(cc):
    for m in re.finditer(r"case (\w+):\s*return \(\"([^\"]*)\"\);", cc):
        CONTEXT_NAMES[m.group(1)] = m.group(2)


class Schema:
    def __init__(self, rules, tokens):
        self.rules, self.tokens = rules, tokens

    def symbols(self, alt):
        return [s for s in alt if not isinstance(s, tuple)]

    def actions(self, alt):
        return " ".join(s[1] for s in alt if isinstance(s, tuple))

    def is_token(self, s):
        return s.isupper() or s == "%empty"

    def keyword(self, tok):
        return self.tokens.get(tok, tok).strip('"')

    def literals(self, tok, ctx=None):
        """An enum value as the lexer matches it in context `ctx` (every context when None);
        `(?i:...)` rules are marked `i:`."""
        found = [lit for lit, contexts in LITERALS.get(tok, [])
                 if ctx is None or not contexts or ctx in contexts]
        out = []
        for lit in found or [self.keyword(tok)]:
            if lit not in out:
                out.append(lit)
        return out

    def params(self, rule, seen=None):
        """Keyword parameters reachable from a map's parameter-list rule."""
        seen = seen if seen is not None else set()
        if rule in seen:
            return {}
        seen.add(rule)
        out = {}
        for alt in self.rules[rule]:
            syms = self.symbols(alt)
            if len(syms) >= 2 and self.is_token(syms[0]) and syms[1] == "COLON" \
                    and syms[0] not in ("STRING",):
                shape = self.param(rule)
                for key in self.literals(syms[0]):
                    out[key.removeprefix("i:")] = shape
                continue
            for s in syms:
                if s in ("COMMA", "unknown_map_entry") or self.is_token(s):
                    continue
                out.update(self.params(s, seen))
        return out

    def param(self, rule):
        alt = self.rules[rule][0]
        syms = self.symbols(alt)
        ctx = re.search(r"ctx\.enter\(ctx\.(\w+)\)", self.actions(alt))
        ctx = ctx.group(1) if ctx else None
        return self.shape(syms[2:], ctx, self.actions(alt))

    def map_shape(self, params_rule, ctx, actions):
        alts = [self.symbols(a) for a in self.rules[params_rule]]
        empty = any(a in ([], ["%empty"]) for a in alts)
        return {
            "kind": "map",
            "context": CONTEXT_NAMES.get(ctx, ctx),
            "empty": empty,
            "required": re.findall(r'ctx\.require\("([^"]+)"', actions),
            "keys": self.params(params_rule),
        }

    def shape(self, syms, ctx, actions=""):
        simple = {"INTEGER": "int", "FLOAT": "float", "BOOLEAN": "bool", "STRING": "string",
                  "NULL_TYPE": "null", "value": "any", "map_value": "any_map",
                  "list_generic": "any_list", "list_strings": "string_list"}
        if len(syms) == 1 and syms[0] in simple:
            return {"kind": simple[syms[0]]}
        if len(syms) == 3 and syms[0] == "LCURLY_BRACKET":
            return self.map_shape(syms[1], ctx, actions)
        if len(syms) == 3 and syms[0] == "LSQUARE_BRACKET":
            return self.list_shape(syms[1], ctx)
        if len(syms) == 1 and syms[0] in self.rules:
            return self.nonterminal(syms[0], ctx)
        if len(syms) == 1 and self.is_token(syms[0]):
            return {"kind": "enum", "values": self.literals(syms[0], ctx), "also": []}
        raise SystemExit(f"unknown shape {syms}")

    def nonterminal(self, rule, ctx):
        alts = [a for a in self.rules[rule]]
        syms = [self.symbols(a) for a in alts]
        if all(len(s) == 1 and self.is_token(s[0]) for s in syms):
            return {"kind": "enum",
                    "values": [v for s in syms if s[0] not in simple_tokens()
                               for v in self.literals(s[0], ctx)],
                    "also": [s[0] for s in syms if s[0] in simple_tokens()]}
        if len(syms) == 1 and syms[0] and syms[0][0] == "LCURLY_BRACKET":
            return self.map_shape(syms[0][1], ctx, self.actions(alts[0]))
        if len(syms) == 1 and syms[0] and syms[0][0] == "LSQUARE_BRACKET":
            return self.list_shape(syms[0][1], ctx)
        if all(len(s) == 1 for s in syms):
            # An alternation of nonterminals each a single token (host-reservation-identifiers).
            values, also = [], []
            for s in syms:
                sub = self.nonterminal(s[0], ctx) if s[0] in self.rules else None
                if sub and sub["kind"] == "enum":
                    values += sub["values"]
                    also += sub["also"]
                elif s[0] in simple_tokens():
                    also.append(s[0])
                else:
                    raise SystemExit(f"unknown nonterminal {rule}: {syms}")
            return {"kind": "enum", "values": values, "also": also}
        raise SystemExit(f"unknown nonterminal {rule}: {syms}")

    def list_shape(self, content, ctx):
        alts = [self.symbols(a) for a in self.rules[content]]
        empty = any(a in ([], ["%empty"]) for a in alts)
        nonempty = [a for a in alts if a not in ([], ["%empty"])]
        inner = nonempty[0][0] if len(nonempty) == 1 and len(nonempty[0]) == 1 else content
        item_alts = [self.symbols(a) for a in self.rules[inner]]
        item = next(a for a in item_alts if len(a) == 1)[0]
        if item in ("STRING", "INTEGER", "value", "map_value"):
            shape = self.shape([item], ctx)
        else:
            first = self.rules[item][0]
            s = self.symbols(first)
            if s and s[0] == "LCURLY_BRACKET":
                shape = self.map_shape(s[1], ctx, self.actions(first))
            else:
                shape = self.nonterminal(item, ctx)
        return {"kind": "list", "empty": empty, "item": shape}


def simple_tokens():
    return {"STRING", "INTEGER", "FLOAT", "BOOLEAN", "NULL_TYPE"}


def main():
    git, tag = sys.argv[1], sys.argv[2]
    yy = show(git, tag, "src/bin/dhcp4/dhcp4_parser.yy")
    context_names(show(git, tag, "src/bin/dhcp4/parser_context.cc"))
    lexer_literals(show(git, tag, "src/bin/dhcp4/dhcp4_lexer.ll"))
    schema = Schema(rules_of(yy), tokens_of(yy))
    dhcp4 = schema.param("global_object")
    root = {"kind": "map", "context": "toplevel", "empty": False, "required": ["Dhcp4"],
            "keys": {"Dhcp4": dhcp4}}
    json.dump({"kea": tag, "source": "src/bin/dhcp4/dhcp4_parser.yy", "root": root},
              sys.stdout, indent=1, sort_keys=False)
    print()


if __name__ == "__main__":
    main()
