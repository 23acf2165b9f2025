//! Work stays proportional to input size for the shapes that once made it explode
//! (issue 21): WhatsApp values with many value-level errors and many messages, many
//! contacts and many messages, and knowledge files with many variants.
//!
//! Each check measures what the code allocates (count and bytes, through a counting global
//! allocator, which is why this is a test binary of its own) at two sizes, and asserts that
//! quadrupling the input at most about quadruples the work, plus an absolute bound in bytes
//! per input byte. Nothing here reads a clock: a slow machine cannot fail these tests, and a
//! quadratic algorithm cannot pass them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use relay::draft::Drafter;
use relay::ingest::parse::{self, ItemBody, ParseError};
use relay::knowledge::Knowledge;
use relay::safety::Classifier;
use serde_json::{Value, json};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;
use std::sync::{Mutex, MutexGuard};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// The allocator's counters are global, so each test holds this for its whole run: no
/// other test's allocations land in its measurements.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn alone() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What one call allocated.
#[derive(Debug, Clone, Copy)]
struct Work {
    allocations: usize,
    bytes: usize,
}

fn measure<T>(f: impl FnOnce() -> T) -> (T, Work) {
    let region = Region::new(GLOBAL);
    let out = f();
    let stats = region.change();
    (
        out,
        Work {
            allocations: stats.allocations + stats.reallocations,
            bytes: stats.bytes_allocated + stats.bytes_reallocated.max(0).unsigned_abs(),
        },
    )
}

/// Runs `f` on inputs of size `n` and `4n` and checks that the work grew at most ~linearly
/// and stayed under `bytes_per_input_byte` of the larger input.
#[track_caller]
fn check_linear(
    what: &str,
    n: usize,
    input: impl Fn(usize) -> Vec<u8>,
    f: impl Fn(&[u8]),
    bytes_per_input_byte: usize,
) {
    let small = input(n);
    let large = input(4 * n);
    let ((), a) = measure(|| f(&small));
    let ((), b) = measure(|| f(&large));
    eprintln!(
        "{what}: {} B → {a:?}; {} B → {b:?}",
        small.len(),
        large.len()
    );
    // Linear work grows 4×; quadratic 16×. 5× leaves room for amortized growth of buffers.
    assert!(
        b.allocations <= 5 * a.allocations.max(1),
        "{what}: allocations grew from {} to {} for 4× the input",
        a.allocations,
        b.allocations
    );
    assert!(
        b.bytes <= 5 * a.bytes.max(1),
        "{what}: bytes grew from {} to {} for 4× the input",
        a.bytes,
        b.bytes
    );
    assert!(
        b.bytes <= bytes_per_input_byte * large.len(),
        "{what}: {} bytes allocated for {} input bytes",
        b.bytes,
        large.len()
    );
}

fn whatsapp(value: Value) -> Vec<u8> {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "waba", "changes": [
        {"field": "messages", "value": value}]}]})
    .to_string()
    .into_bytes()
}

fn metadata() -> Value {
    json!({"display_phone_number": "15550001111", "phone_number_id": "106540352242922"})
}

/// `n` value-level errors beside `n` messages: every message used to get a copy of every
/// error (4 GB from a 100 KB body).
fn errors_and_messages(n: usize) -> Vec<u8> {
    let errors: Vec<Value> = (0..n)
        .map(|i| {
            json!({"code": 131_000 + i, "title": format!("t{i}"), "message": format!("m{i}"),
                        "error_data": {"details": format!("d{i}")}})
        })
        .collect();
    let messages: Vec<Value> = (0..n)
        .map(|i| {
            json!({"from": "16505551234", "id": format!("wamid.{i}"), "timestamp": "1749416383",
                        "type": "unsupported", "unsupported": {"type": "poll"}})
        })
        .collect();
    whatsapp(
        json!({"messaging_product": "whatsapp", "metadata": metadata(),
                    "errors": errors, "messages": messages}),
    )
}

/// `n` contacts and `n` messages, each from the contact listed last-but-`i`: every message
/// used to scan the contacts, allocating an id per comparison (29 s for 960 KB).
fn contacts_and_messages(n: usize) -> Vec<u8> {
    let contacts: Vec<Value> = (0..n)
        .map(|i| json!({"profile": {"name": format!("Customer {i}")}, "wa_id": format!("62800{i:06}")}))
        .collect();
    let messages: Vec<Value> = (0..n)
        .map(|i| {
            json!({"from": format!("62800{:06}", n - 1 - i), "id": format!("wamid.{i}"),
                        "timestamp": "1749416383", "type": "text", "text": {"body": "halo"}})
        })
        .collect();
    whatsapp(
        json!({"messaging_product": "whatsapp", "metadata": metadata(),
                    "contacts": contacts, "messages": messages}),
    )
}

fn parse_ok(body: &[u8]) {
    parse::parse(body).unwrap();
}

#[test]
fn value_errors_are_attached_once_and_work_is_linear() {
    let _alone = alone();
    check_linear("errors × messages", 250, errors_and_messages, parse_ok, 64);

    let envelope = parse::parse(&errors_and_messages(1000)).unwrap();
    assert_eq!(envelope.items.len(), 1000);
    let errors: Vec<usize> = envelope
        .items
        .iter()
        .map(|item| match &item.body {
            ItemBody::Conversation(c) => match &c.kind {
                protocol::inbound::InboundKind::Message(m) => m.errors.len(),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        errors[0], 1000,
        "the first message carries the value's errors"
    );
    assert!(
        errors[1..].iter().all(|&n| n == 0),
        "and no other copies them"
    );
}

#[test]
fn contacts_are_indexed_once_and_work_is_linear() {
    let _alone = alone();
    check_linear(
        "contacts × messages",
        250,
        contacts_and_messages,
        parse_ok,
        64,
    );

    let envelope = parse::parse(&contacts_and_messages(1000)).unwrap();
    let names: Vec<Option<String>> = envelope
        .items
        .iter()
        .map(|item| match &item.body {
            ItemBody::Conversation(c) => c.customer.name.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(names[0].as_deref(), Some("Customer 999"));
    assert_eq!(names[999].as_deref(), Some("Customer 0"));
}

#[test]
fn more_than_meta_sends_is_refused_in_one_pass() {
    let _alone = alone();
    // One message over the per-value limit: refused, cheaply, without building an item.
    let n = parse::limits::MAX_PER_VALUE + 1;
    let body = contacts_and_messages(n);
    let (result, work) = measure(|| parse::parse(&body));
    match result {
        Err(ParseError::TooLarge(e)) => {
            assert_eq!(e.path, "entry[0].changes[0].value.messages");
        }
        other => panic!("{other:?}"),
    }
    // The JSON tree itself (about 17 bytes per input byte) is the only large allocation.
    assert!(
        work.bytes <= 24 * body.len(),
        "{work:?} for {} B",
        body.len()
    );
}

/// One item with `n` variants of distinct labels.
fn variants(n: usize) -> Vec<u8> {
    let mut text = String::from(
        "[business]\nname = \"Shop\"\ncurrency = \"USD\"\n\n[[items]]\nsku = \"S-1\"\nname = \"Tee\"\nprice = 1000\n",
    );
    for i in 0..n {
        text.push_str(&format!(
            "[[items.variants]]\nsize = \"S{i}\"\ncolour = \"C{i}\"\nstock = {i}\nprice = {}\n",
            1000 + i
        ));
    }
    text.into_bytes()
}

#[test]
fn knowledge_variants_are_validated_in_linear_work() {
    let _alone = alone();
    check_linear(
        "knowledge variants",
        2000,
        variants,
        |text| {
            Knowledge::from_toml(std::str::from_utf8(text).unwrap()).unwrap();
        },
        200,
    );
    // What drafting builds from a loaded file (once per knowledge version) stays linear too,
    // with every variant at its own price.
    check_linear(
        "drafter and classifier over variants",
        2000,
        variants,
        |text| {
            let k = Knowledge::from_toml(std::str::from_utf8(text).unwrap()).unwrap();
            let _ = (Drafter::new(&k), Classifier::new(&k), k.items[0].prices());
        },
        400,
    );
    let text = String::from_utf8(variants(3)).unwrap();
    let dup = text.replace(
        "size = \"S2\"\ncolour = \"C2\"",
        "size = \"s1\"\ncolour = \"c1\"",
    );
    let err = Knowledge::from_toml(&dup).unwrap_err().to_string();
    assert!(
        err.contains("variants[2]") && err.contains("listed twice"),
        "{err}"
    );
}

#[test]
fn total_stock_is_summed_without_overflow() {
    let file = "[business]\nname = \"Shop\"\ncurrency = \"USD\"\n\n[[items]]\nsku = \"S-1\"\n\
                name = \"Tee\"\nprice = 1000\nvariants = [\n\
                { size = \"S\", stock = 4294967295 },\n{ size = \"M\", stock = 1 },\n]\n";
    let k = Knowledge::from_toml(file).unwrap();
    assert_eq!(k.items[0].total_stock(), Some(4_294_967_296));
}
