//! How `relay admin` prints answers: a table for people (the default), the relay's JSON
//! unchanged for scripts (`--json`).
//!
//! Tables are built from the JSON itself, so every command has one without a printer of
//! its own: an answer holding one list (`{"partners": [...]}`) becomes a table with a row
//! per element and a column per field; any other object becomes a field/value table.
//! Nested values are shown as compact JSON. Nothing here adds or hides fields.

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde_json::Value;

/// Prints `value` as JSON (`json`) or as a table.
///
/// # Errors
/// The JSON could not be written.
pub(super) fn print(value: &Value, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        println!("{}", table(value));
    }
    Ok(())
}

/// The table of an answer (see the module doc).
#[must_use]
pub(super) fn table(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let lists: Vec<(&String, &Vec<Value>)> = map
                .iter()
                .filter_map(|(k, v)| v.as_array().map(|a| (k, a)))
                .collect();
            // One list beside scalars (e.g. `{"head": 7, "events": [...]}`): the list is the
            // table, the scalars a line above it.
            if let [(name, rows)] = lists.as_slice()
                && rows.iter().all(Value::is_object)
            {
                let others: Vec<String> = map
                    .iter()
                    .filter(|(k, _)| k != name)
                    .map(|(k, v)| format!("{k}: {}", cell(v)))
                    .collect();
                let mut out = String::new();
                if !others.is_empty() {
                    out.push_str(&others.join("  "));
                    out.push('\n');
                }
                if rows.is_empty() {
                    out.push_str(&format!("no {name}"));
                } else {
                    out.push_str(&rows_table(rows).to_string());
                }
                return out;
            }
            let mut t = new_table();
            t.set_header(["field", "value"]);
            for (k, v) in map {
                t.add_row([k.clone(), cell(v)]);
            }
            t.to_string()
        }
        Value::Array(rows) if rows.iter().all(Value::is_object) && !rows.is_empty() => {
            rows_table(rows).to_string()
        }
        other => cell(other),
    }
}

fn new_table() -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t
}

/// One row per object; the columns are every field any row has, in first-seen order.
fn rows_table(rows: &[Value]) -> Table {
    let mut columns: Vec<String> = Vec::new();
    for row in rows {
        if let Some(obj) = row.as_object() {
            for k in obj.keys() {
                if !columns.contains(k) {
                    columns.push(k.clone());
                }
            }
        }
    }
    let mut t = new_table();
    t.set_header(columns.clone());
    for row in rows {
        t.add_row(columns.iter().map(|c| cell(&row[c.as_str()])));
    }
    t
}

/// A value as one cell: strings bare, null empty, nested values as compact JSON.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::table;
    use serde_json::json;

    #[test]
    fn a_listing_is_a_table_with_a_row_per_element() {
        let text = table(&json!({"partners": [
            {"id": "pa_1", "name": "Agency", "tenants": 2},
            {"id": "pa_2", "name": "Other", "brand": "B", "tenants": 0},
        ]}));
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[1].contains("id") && lines[1].contains("brand"),
            "{text}"
        );
        assert!(text.contains("pa_1") && text.contains("Agency") && text.contains('2'));
        assert!(text.contains("pa_2") && text.contains('B'));
    }

    #[test]
    fn an_answer_is_a_field_value_table_and_an_empty_list_says_so() {
        let text = table(&json!({"id": "tn_1", "deleted": {"events": 3}}));
        assert!(
            text.contains("tn_1") && text.contains(r#"{"events":3}"#),
            "{text}"
        );
        assert_eq!(table(&json!({"tenants": []})), "no tenants");
        let text = table(&json!({"head": 7, "events": [{"seq": 1}]}));
        assert!(text.starts_with("head: 7\n"), "{text}");
    }
}
