//! How much one webhook body may hold, checked before any item is built.
//!
//! Meta documents that "Event Notifications are aggregated and sent in a batch with a
//! maximum of 1000 updates" (meta-platform.md §3), so a body with more than 1000 entries, or
//! an entry with more than 1000 `messaging`/`standby`/`changes` elements, is not one Meta
//! sends. Meta documents no limit for the lists inside a WhatsApp value (`messages`,
//! `statuses`, `contacts`, `errors`) nor for the items of a whole body, so those get generous
//! limits of our own: far above anything seen from Meta, low enough that a hostile body is
//! refused in one cheap pass instead of being turned into hundreds of thousands of events.
//!
//! This module only counts; it never reads ids or texts, and costs one pass over the
//! envelope's arrays (not their contents).

use super::json::{at, list};
use serde_json::Value;

/// Entries per body, and elements of each `messaging[]`, `standby[]` and `changes[]` of an
/// entry: Meta's documented batch maximum.
pub const MAX_PER_BATCH: usize = 1000;

/// Elements of each list of a WhatsApp change value (`messages`, `statuses`, `contacts`,
/// `errors`). Not documented by Meta; generous.
pub const MAX_PER_VALUE: usize = 1000;

/// Items one body may produce. Not documented as such (Meta's "update" may be a change that
/// holds several messages and statuses), so ten times the documented batch.
pub const MAX_ITEMS: usize = 10 * MAX_PER_BATCH;

/// A list longer than its limit, named by its path in the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path} has {count} elements; at most {limit} are accepted")]
pub struct Exceeded {
    pub path: String,
    pub count: usize,
    pub limit: usize,
}

fn check_len(path: impl FnOnce() -> String, count: usize, limit: usize) -> Result<(), Exceeded> {
    if count > limit {
        Err(Exceeded {
            path: path(),
            count,
            limit,
        })
    } else {
        Ok(())
    }
}

/// Checks every limit over the `(object, entry[])` pairs of one body.
///
/// # Errors
/// The first list found over its limit, or the whole body when it would produce more than
/// [`MAX_ITEMS`] items.
pub fn check(envelopes: &[(&str, &[Value])]) -> Result<(), Exceeded> {
    let entries: usize = envelopes.iter().map(|(_, e)| e.len()).sum();
    check_len(|| "entry".to_owned(), entries, MAX_PER_BATCH)?;
    let mut items = 0usize;
    for (object, entry_list) in envelopes {
        for (i, entry) in entry_list.iter().enumerate() {
            items += entry_items(object, i, entry)?;
        }
    }
    check_len(|| "the body's items".to_owned(), items, MAX_ITEMS)
}

/// Checks one entry's lists and answers how many items it can produce at most.
fn entry_items(object: &str, i: usize, entry: &Value) -> Result<usize, Exceeded> {
    let mut items = 1; // An entry that yields nothing else is kept as one Unknown.
    for key in ["messaging", "standby", "changes"] {
        let n = list(at(entry, key)).len();
        check_len(|| format!("entry[{i}].{key}"), n, MAX_PER_BATCH)?;
        items += n;
    }
    if object != "whatsapp_business_account" {
        return Ok(items);
    }
    let flat = entry.get("field").is_some().then_some(entry);
    for (j, change) in list(at(entry, "changes")).iter().chain(flat).enumerate() {
        let value = at(change, "value");
        for key in ["messages", "statuses", "contacts", "errors"] {
            let n = list(at(value, key)).len();
            check_len(
                || format!("entry[{i}].changes[{j}].value.{key}"),
                n,
                MAX_PER_VALUE,
            )?;
            if matches!(key, "messages" | "statuses") {
                items += n;
            }
        }
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn run(body: &Value) -> Result<(), Exceeded> {
        let entries = body["entry"].as_array().unwrap();
        check(&[(body["object"].as_str().unwrap(), entries.as_slice())])
    }

    fn wa(value: Value) -> Value {
        json!({"object": "whatsapp_business_account",
               "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}]})
    }

    fn many(n: usize) -> Vec<Value> {
        vec![json!({}); n]
    }

    #[test]
    fn limits_are_inclusive_and_name_the_list() {
        assert!(run(&wa(json!({"messages": many(MAX_PER_VALUE)}))).is_ok());
        let err = run(&wa(json!({"errors": many(MAX_PER_VALUE + 1)}))).unwrap_err();
        assert_eq!(err.path, "entry[0].changes[0].value.errors");
        assert_eq!((err.count, err.limit), (MAX_PER_VALUE + 1, MAX_PER_VALUE));

        let ig = |n| json!({"object": "instagram", "entry": [{"id": "1", "messaging": many(n)}]});
        assert!(run(&ig(MAX_PER_BATCH)).is_ok());
        assert_eq!(
            run(&ig(MAX_PER_BATCH + 1)).unwrap_err().path,
            "entry[0].messaging"
        );
        let entries = json!({"object": "page", "entry": many(MAX_PER_BATCH + 1)});
        assert_eq!(run(&entries).unwrap_err().path, "entry");
    }

    #[test]
    fn items_are_counted_across_entries() {
        // Eleven entries of 1000 statuses each: every list is within its limit, the body not.
        let entry = json!({"id": "1", "changes": [{"field": "messages",
                           "value": {"statuses": many(MAX_PER_VALUE)}}]});
        let body = json!({"object": "whatsapp_business_account", "entry": vec![entry; 11]});
        assert_eq!(run(&body).unwrap_err().path, "the body's items");
    }
}
