//! `option-def` and `option-data` lists as Kea's OptionDefParser and OptionDataParser
//! (src/lib/dhcpsrv/parsers/option_data_parser.cc) check them.

use crate::kea::diag::{Diagnostic, Layout};
use crate::kea::json::Node;
use crate::kea::model::OptionData;
use crate::kea::options::{encode, DataType, EncodeError, OptionDef};

use super::{error, read, Check, Ctx};

/// The position OptionDataParser::getPosition gives `key`: the value when present, else the
/// entry's map.
fn position<'a>(entry: &'a Node, key: &str) -> &'a crate::kea::diag::Span {
    entry.get(key).map(|n| &n.span).unwrap_or(&entry.span)
}

/// OptionSpace::validateName and the name rule of OptionDefinition::validate: letters,
/// digits, `-` and `_`, not empty, neither starting nor ending with `-` or `_`.
fn valid_name(name: &str) -> bool {
    let edge = |c: Option<char>| matches!(c, Some('-' | '_'));
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !edge(name.chars().next())
        && !edge(name.chars().last())
}

/// OptionDefParser::parse (src/lib/dhcpsrv/parsers/dhcp_parsers.cc at Kea-2.2.0), in its
/// order: the code, the space name, PAD and END, an array that encapsulates, then
/// OptionDefinition::validate (name, encapsulated space, type).
fn parse_def(entry: &Node) -> Check<OptionDef> {
    let name = read::string(entry, "name").unwrap_or_default();
    let space = read::string(entry, "space").unwrap_or_else(|| "dhcp4".into());
    let code = entry.get("code").and_then(Node::as_int).unwrap_or(0);
    let type_name = read::string(entry, "type").unwrap_or_default();
    let array = read::boolean(entry, "array").unwrap_or(false);
    let encapsulates = read::string(entry, "encapsulate").unwrap_or_default();
    if code < 0 {
        return Err(error(
            position(entry, "code"),
            "option code must not be negative",
        ));
    }
    let code = match u16::try_from(code) {
        Ok(c) if c <= 255 => c,
        _ => {
            return Err(error(
                position(entry, "code"),
                format!("invalid option code '{code}', it must not be greater than '255'"),
            ))
        }
    };
    if !valid_name(&space) {
        return Err(error(
            position(entry, "space"),
            format!("invalid option space name '{space}'"),
        ));
    }
    if space == "dhcp4" && (code == 0 || code == 255) {
        let what = if code == 0 { "PAD" } else { "END" };
        return Err(error(
            position(entry, "code"),
            format!("invalid option code '{code}': reserved for {what}"),
        ));
    }
    if !encapsulates.is_empty() && array {
        return Err(error(
            &entry.span,
            format!(
                "option '{space}.{name}', comprising an array of data fields may not \
                 encapsulate any option space"
            ),
        ));
    }
    // OptionDefinition::addRecordField for each record type, before validate().
    let mut record = Vec::new();
    let fields = read::string(entry, "record-types").unwrap_or_default();
    for field in fields.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        let refused = |why: String| {
            Err(error(
                position(entry, "record-types"),
                format!("invalid record type values specified for the option definition: {why}"),
            ))
        };
        if type_name != "record" {
            // OptionDataTypeUtil::getDataTypeName of the parsed type: unknown names print so.
            let shown = DataType::from_kea_name(&type_name).map_or("unknown", |_| &type_name);
            return refused(format!(
                "'record' option type must be used instead of '{shown}' to add data fields to \
                 the record"
            ));
        }
        match DataType::from_kea_name(field) {
            Some(DataType::Record | DataType::Empty | DataType::Internal) | None => {
                let shown = DataType::from_kea_name(field).map_or("unknown", |_| field);
                return refused(format!(
                    "attempted to add invalid data type '{shown}' to the record."
                ));
            }
            Some(ty) => record.push(ty),
        }
    }
    if !valid_name(&name) {
        return Err(error(&entry.span, format!("invalid option name '{name}'")));
    }
    if !encapsulates.is_empty() && !valid_name(&encapsulates) {
        return Err(error(
            &entry.span,
            format!("invalid encapsulated option space name: '{encapsulates}'"),
        ));
    }
    // OptionDataTypeUtil::getDataType maps an unknown name to OPT_UNKNOWN_TYPE, whose
    // value (18 in option_data_types.h) is what OptionDefinition::validate prints.
    let Some(ty) = DataType::from_kea_name(&type_name) else {
        return Err(error(&entry.span, "option type 18 not supported."));
    };
    // OptionDefinition::validate: arrays of variable-length types, then record layout.
    let invalid = |m: &str| Err(error(&entry.span, m.to_string()));
    if array && ty != DataType::Record {
        match ty {
            DataType::String => {
                return invalid("array of strings is not a valid option definition.")
            }
            DataType::Binary => {
                return invalid("array of binary values is not a valid option definition.")
            }
            DataType::Empty => {
                return invalid("array of empty value is not a valid option definition.")
            }
            _ => {}
        }
    }
    if ty == DataType::Record && record.len() < 2 {
        return Err(error(
            &entry.span,
            format!(
                "invalid number of data fields: {} specified for the option of type 'record'. \
                 Expected at least 2 fields.",
                record.len()
            ),
        ));
    }
    if ty == DataType::Record {
        let last = record.len() - 1;
        for (i, field) in record.iter().enumerate() {
            match field {
                DataType::String if i < last => {
                    return invalid(
                        "string data field can't be laid before data fields of other types.",
                    )
                }
                DataType::Binary if i < last => {
                    return invalid(
                        "binary data field can't be laid before data fields of other types.",
                    )
                }
                _ => {}
            }
        }
        match record[last] {
            DataType::String if array => {
                return invalid("array of strings is not a valid option definition.")
            }
            DataType::Binary if array => {
                return invalid("array of binary values is not a valid option definition.")
            }
            _ => {}
        }
    }
    Ok(OptionDef {
        name,
        code,
        space,
        ty,
        array,
        record,
        encapsulates,
    })
}

/// The global `option-def` list: each definition parsed, then stored in the option space
/// (CfgOptionDef::add refuses standard codes and repeated names or codes).
pub fn option_defs(ctx: &mut Ctx, list: &Node) -> Check<Vec<OptionDef>> {
    let mut out: Vec<OptionDef> = Vec::new();
    for entry in list.items().unwrap_or_default() {
        let def = parse_def(entry)?;
        let (name, code, space) = (&def.name, def.code, &def.space);
        if ctx.registry.standard_by_code(space, code).is_some() && space == "dhcp4" {
            return Err(error(
                &entry.span,
                format!(
                    "unable to override definition of option '{code}' in standard option \
                     space '{space}'"
                ),
            ));
        }
        if out.iter().any(|d| &d.space == space && &d.name == name) {
            return Err(error(
                &entry.span,
                format!(
                    "option definition with name '{name}' already exists in option space \
                     '{space}'"
                ),
            ));
        }
        if out.iter().any(|d| &d.space == space && d.code == code) {
            return Err(error(
                &entry.span,
                format!(
                    "option definition with code '{code}' already exists in option space \
                     '{space}'"
                ),
            ));
        }
        ctx.registry.add(def.clone());
        out.push(def);
    }
    Ok(out)
}

/// A class's `option-def` list (ClientClassDefParser::parse): each definition parsed as the
/// global ones are, and only for options whose unpacking Kea defers to classification
/// (LibDHCP::shouldDeferOptionUnpack: 43 and 224-254 in dhcp4).
pub fn class_option_defs(list: &Node) -> Check<Vec<OptionDef>> {
    let mut out = Vec::new();
    for entry in list.items().unwrap_or_default() {
        let def = parse_def(entry)?;
        let deferred = def.space == "dhcp4" && (def.code == 43 || (224..=254).contains(&def.code));
        if !deferred {
            return Err(Diagnostic::semantic_error(
                Some(entry.span.clone()),
                format!(
                    "Not allowed option definition for code '{}' in space '{}' at ({})",
                    def.code,
                    def.space,
                    entry.span.element()
                ),
            )
            .laid_out(Layout::Verbatim));
        }
        out.push(def);
    }
    Ok(out)
}

/// Where the option-data list sits decides whether SimpleParser4's defaults (`csv-format`
/// true) were applied to it first: Kea 2.2 applies them everywhere but in client classes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Defaults {
    Applied,
    NotApplied,
}

pub fn option_data_list(ctx: &mut Ctx, list: &Node) -> Check<Vec<OptionData>> {
    // Kea's SimpleParser4::setAllDefaults gives only the global option-data list its
    // OPTION4_DEFAULTS (csv-format true); subnet, pool, shared-network and host lists get none,
    // which changes the wording of an unknown-option error (checked against kea-dhcp4 2.2).
    option_data_list_with(ctx, list, Defaults::NotApplied)
}

/// The global `option-data`, with Kea's defaults applied.
pub fn global_option_data_list(ctx: &mut Ctx, list: &Node) -> Check<Vec<OptionData>> {
    option_data_list_with(ctx, list, Defaults::Applied)
}

pub fn option_data_list_with(
    ctx: &mut Ctx,
    list: &Node,
    defaults: Defaults,
) -> Check<Vec<OptionData>> {
    list.items()
        .unwrap_or_default()
        .iter()
        .map(|entry| option_data(ctx, entry, defaults))
        .collect()
}

fn option_data(ctx: &mut Ctx, entry: &Node, defaults: Defaults) -> Check<OptionData> {
    let name = read::string(entry, "name");
    let space = read::string(entry, "space").unwrap_or_else(|| "dhcp4".into());
    let data = read::string(entry, "data").unwrap_or_default();
    let csv_given = read::boolean(entry, "csv-format");
    let csv_given = csv_given.or((defaults == Defaults::Applied).then_some(true));
    // OptionDataParser::extractCode reads the code into a uint32_t: -1 is 4294967295 and
    // 2^32 is 0 by the time it is checked.
    let code = match entry.get("code").and_then(Node::as_int).map(|c| c as u32) {
        Some(c) if c > 255 => {
            return Err(error(
                position(entry, "code"),
                format!("invalid option code '{c}', it must not be greater than '255'"),
            ))
        }
        Some(c) => Some(c as u16),
        None => None,
    };
    // extractName, then extractSpace (after the data), each with its value's position.
    if let Some(name) = name.as_deref().filter(|n| n.contains(' ')) {
        return Err(error(
            position(entry, "name"),
            format!("invalid option name '{name}', space character is not allowed"),
        ));
    }
    if entry.get("space").is_some() && !valid_name(&space) {
        return Err(error(
            position(entry, "space"),
            format!("invalid option space name '{space}'"),
        ));
    }
    if code.is_none() && name.is_none() {
        return Err(error(
            &entry.span,
            "option data configuration requires one of 'code' or 'name' parameters to be \
             specified",
        ));
    }
    let def = match (code, &name) {
        (Some(code), _) => ctx.registry.by_code(&space, code),
        (None, Some(name)) => ctx.registry.by_name(&space, name),
        (None, None) => None,
    }
    .cloned();
    let shown_name = name.clone().unwrap_or_default();
    if def.is_none() {
        if csv_given == Some(true) {
            return Err(error(
                position(entry, "name"),
                format!(
                    "definition for the option '{space}.{shown_name}' having code '{}' does \
                     not exist",
                    code.unwrap_or(0)
                ),
            ));
        } else if name.is_some() && code.is_none() {
            return Err(error(
                position(entry, "name"),
                format!("definition for the option '{space}.{shown_name}' does not exist"),
            ));
        }
    }
    if let (Some(def), Some(name)) = (&def, &name) {
        if &def.name != name {
            return Err(error(
                position(entry, "name"),
                format!(
                    "specified option name '{name}' does not match the option definition: \
                     '{space}.{}'",
                    def.name
                ),
            ));
        }
    }
    let use_csv = csv_given.unwrap_or(true);
    let bytes = encode(def.as_ref(), &data, use_csv && def.is_some()).map_err(|e| match e {
        EncodeError::Hex(_) => error(position(entry, "data"), e.to_string()),
        EncodeError::Value(text) => error(
            position(entry, "data"),
            format!(
                "option data does not match option definition (space: {space}, code: {}): \
                 {text}",
                def.as_ref().map(|d| d.code).unwrap_or(0)
            ),
        ),
    })?;
    let code = def.as_ref().map(|d| d.code).or(code).unwrap_or(0);
    if space == "dhcp4" && (code == 0 || code == 255) {
        let what = if code == 0 { "PAD" } else { "END" };
        return Err(error(
            &entry.span,
            format!("invalid option code '{code}': reserved for {what}"),
        ));
    }
    let _ = ctx.version;
    Ok(OptionData {
        code,
        name: def.map(|d| d.name).or(name),
        space,
        data: bytes,
        text: data,
        csv_format: use_csv,
        always_send: read::boolean(entry, "always-send").unwrap_or(false),
        span: entry.span.clone(),
    })
}
