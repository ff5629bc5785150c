//! The shape check of a configuration file against the defaults: every unknown option and every
//! value of the wrong type, each named by its full option name with the type expected.

use toml::{Table, Value};

/// `namespaces[0].room_aliases` -> `namespaces.room_aliases`.
fn schema_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut depth = 0u32;
    for c in path.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Options whose value is a list of tables, and the defaults of one entry.
fn table_list_entry(path: &str) -> Option<Table> {
    let entry = match schema_path(path).as_str() {
        "namespaces" => Table::try_from(super::NamespaceSection::default()),
        "namespaces.room_aliases" => Table::try_from(super::RoomAlias::default()),
        _ => return None,
    };
    entry.ok()
}

/// What a value of the default's type is called in a message.
fn expected(default: &Value) -> &'static str {
    match default {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a number",
        Value::Boolean(_) => "true or false",
        Value::Datetime(_) => "a date",
        Value::Array(_) => "a list of strings",
        Value::Table(_) => "a table",
    }
}

fn found(v: &Value) -> String {
    match v {
        Value::String(s) => format!("the string {s:?}"),
        Value::Integer(i) => format!("the integer {i}"),
        Value::Float(f) => format!("the number {f}"),
        Value::Boolean(b) => format!("{b}"),
        Value::Datetime(d) => format!("the date {d}"),
        Value::Array(_) => "a list".to_owned(),
        Value::Table(_) => "a table".to_owned(),
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Appends to `out` each problem of `given` measured against `defaults` (both at `prefix`).
pub(super) fn shape(prefix: &str, defaults: &Table, given: &Table, out: &mut Vec<String>) {
    for (key, value) in given {
        let path = join(prefix, key);
        let Some(default) = defaults.get(key) else {
            let known: Vec<&str> = defaults.keys().map(String::as_str).collect();
            out.push(format!(
                "{path}: unknown option (known here: {})",
                known.join(", ")
            ));
            continue;
        };
        if let Some(entry) = table_list_entry(&path) {
            match value {
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        match item {
                            Value::Table(t) => shape(&format!("{path}[{i}]"), &entry, t, out),
                            other => out.push(format!(
                                "{path}[{i}]: expected a table, found {}",
                                found(other)
                            )),
                        }
                    }
                }
                other => out.push(format!(
                    "{path}: expected a list of tables ([[{path}]]), found {}",
                    found(other)
                )),
            }
            continue;
        }
        match (default, value) {
            (Value::Table(d), Value::Table(g)) => shape(&path, d, g, out),
            (Value::Array(_), Value::Array(items)) => {
                if let Some((i, bad)) = items
                    .iter()
                    .enumerate()
                    .find(|(_, v)| !matches!(v, Value::String(_)))
                {
                    out.push(format!(
                        "{path}[{i}]: expected a string, found {}",
                        found(bad)
                    ));
                }
            }
            (Value::Integer(_), Value::Integer(i)) if *i < 0 => out.push(format!(
                "{path}: expected a non-negative integer, found {i}"
            )),
            (d, g) if std::mem::discriminant(d) == std::mem::discriminant(g) => {}
            (d, g) => out.push(format!(
                "{path}: expected {}, found {}",
                expected(d),
                found(g)
            )),
        }
    }
}
