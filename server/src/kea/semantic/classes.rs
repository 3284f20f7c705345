//! `client-classes` as ClientClassDefListParser / ClientClassDefParser check them
//! (src/lib/dhcpsrv/parsers/client_class_def_parser.cc): the test expression, option data,
//! boot fields, then the name against the classes defined before.

use std::net::Ipv4Addr;

use crate::kea::diag::{Diagnostic, Layout, Span};
use crate::kea::json::Node;
use crate::kea::model::ClientClass;

use super::options::{option_data_list_with, Defaults};
use super::{error, read, Check, Ctx};
use crate::kea::expr::{self, is_builtin_class, ClassLookup, OptionLookup};
use crate::kea::options::Registry;

pub fn client_classes(ctx: &mut Ctx, list: &Node) -> Check<Vec<ClientClass>> {
    let mut out: Vec<ClientClass> = Vec::new();
    for item in list.items().unwrap_or_default() {
        let class = client_class(ctx, item, &out)?;
        if out.iter().any(|c| c.name == class.name) {
            return Err(error(
                &item.span,
                format!(
                    "Can't add class: Client Class: {} has already been defined",
                    class.name
                ),
            ));
        }
        out.push(class);
    }
    Ok(out)
}

/// ClientClassDefParser::getPosition: the value's position, else the class map's.
fn position<'a>(item: &'a Node, key: &str) -> &'a Span {
    item.get(key).map(|n| &n.span).unwrap_or(&item.span)
}

fn client_class(ctx: &mut Ctx, item: &Node, defined: &[ClientClass]) -> Check<ClientClass> {
    let name = read::string(item, "name").unwrap_or_default();
    if name.is_empty() {
        return Err(Diagnostic::semantic_error(
            Some(position(item, "name").clone()),
            format!(
                "not empty parameter 'name' is required {})",
                position(item, "name").element()
            ),
        )
        .laid_out(Layout::Verbatim));
    }
    let test = item
        .get("test")
        .map(|n| (n.as_str().unwrap_or_default().to_string(), n.span.clone()));
    if let Some((text, span)) = &test {
        expression(ctx, text, span, defined)?;
    }
    if let Some(defs) = item.get("option-def") {
        super::options::class_option_defs(defs)?;
    }
    let options = match item.get("option-data") {
        Some(list) => option_data_list_with(ctx, list, Defaults::NotApplied)?,
        None => Vec::new(),
    };
    let next_server = match item.get("next-server") {
        Some(node) => {
            let text = node.as_str().unwrap_or_default();
            match text.parse::<Ipv4Addr>() {
                Ok(a) if a == Ipv4Addr::BROADCAST => {
                    return Err(error(
                        &node.span,
                        format!("Invalid next-server value: '{text}', must not be a broadcast"),
                    ))
                }
                Ok(a) => Some(a),
                Err(_) if text.is_empty() => None,
                Err(_) => {
                    return Err(error(
                        &node.span,
                        format!("Invalid next-server value specified: '{text}'"),
                    ))
                }
            }
        }
        None => None,
    };
    for (key, max) in [("server-hostname", 63usize), ("boot-file-name", 127)] {
        if let Some(node) = item.get(key) {
            let len = node.as_str().unwrap_or_default().len();
            if len > max {
                return Err(error(
                    &node.span,
                    format!("{key} must be at most {max} bytes long, it is {len}"),
                ));
            }
        }
    }
    // ClientClassDefParser::parse ends with the class's valid-lifetime triplet.
    super::lifetimes::Lifetimes::read(item).valid_triplet(Some(&item.span))?;
    Ok(ClientClass {
        name,
        test,
        only_if_required: read::boolean(item, "only-if-required")
            .or_else(|| read::boolean(item, "only-in-additional-list"))
            .unwrap_or(false),
        next_server,
        server_hostname: read::string(item, "server-hostname").filter(|s| !s.is_empty()),
        boot_file_name: read::string(item, "boot-file-name").filter(|s| !s.is_empty()),
        options,
        valid_lifetime: read::uint(item, "valid-lifetime"),
        span: item.span.clone(),
    })
}

/// ClientClassDefParser::parse's ExpressionParser: the test must parse in the expression
/// language of the release, with options and member() classes known so far.
fn expression(ctx: &mut Ctx, text: &str, span: &Span, defined: &[ClientClass]) -> Check<()> {
    struct Options<'a>(&'a Registry);
    impl OptionLookup for Options<'_> {
        fn option_code(&self, name: &str) -> Option<u16> {
            self.0.by_name("dhcp4", name).map(|d| d.code)
        }
    }
    struct Classes<'a>(&'a [ClientClass]);
    impl ClassLookup for Classes<'_> {
        fn is_defined(&self, class: &str) -> bool {
            is_builtin_class(class) || self.0.iter().any(|c| c.name == class)
        }
    }
    match expr::parse(
        text,
        ctx.version,
        &Options(&ctx.registry),
        &Classes(defined),
    ) {
        Ok(_) => Ok(()),
        Err(e) => Err(Diagnostic::semantic_error(
            Some(span.clone()),
            format!("expression: [{text}] error: {e} at ({})", span.element()),
        )
        .laid_out(Layout::Verbatim)),
    }
}
