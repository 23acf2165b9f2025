//! Tests of webhook parsing: every fixture against `tests/fixtures/meta/manifest.json`,
//! field-by-field expectations for the shapes that matter most, malformed bodies, and
//! properties that `parse` never panics, on random bytes and on mutated real payloads.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::json::millis;
use super::*;
use proptest::prelude::*;
use protocol::inbound::{
    Attachment, AttachmentKind, Comment, CommentMedia, DeliveryStatus, Edit, Forwarded,
    InboundEvent, MessageBody, Postback, ProviderError, Reaction, ReactionAction, Referral,
    ReplyTo, StatusKind, Structured,
};
use protocol::{ChannelId, CustomerId, EventBody, ThreadId};
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::LazyLock;

const IG_A: &str = "17841400000000001";
const IG_B: &str = "17841400000000002";
const PAGE_A: &str = "100000000000001";
const WA_A: &str = "106540352242922";
const WA_B: &str = "106540352242923";
const WABA_A: &str = "102290129340398";
const CUSTOMER: &str = "1080000000000101";
const PSID: &str = "7300000000000101";
const WA_CUSTOMER: &str = "16505551234";

// ---------------------------------------------------------------- helpers

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/meta")
}

/// One fixture file: its exact text and its JSON, for pulling ids out by pointer.
struct Fixture {
    text: String,
    json: Value,
}

impl Fixture {
    #[track_caller]
    fn load(name: &str) -> Fixture {
        let text = std::fs::read_to_string(fixture_dir().join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        Fixture { text, json }
    }

    /// The string (or number) at a JSON pointer.
    #[track_caller]
    fn s(&self, pointer: &str) -> String {
        match self.json.pointer(pointer) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            other => panic!("{pointer}: {other:?}"),
        }
    }

    #[track_caller]
    fn v(&self, pointer: &str) -> &Value {
        self.json
            .pointer(pointer)
            .unwrap_or_else(|| panic!("{pointer} missing"))
    }

    /// The time at a pointer, normalized the way the parser must.
    #[track_caller]
    fn t(&self, pointer: &str) -> Option<Millis> {
        let t = millis(self.v(pointer));
        assert!(t.is_some(), "{pointer} is not a time");
        t
    }

    #[track_caller]
    fn parse(&self) -> Envelope {
        parse(self.text.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// Parses fixture `name` and compares every item with what `expected` builds from it.
#[track_caller]
fn check(name: &str, expected: impl FnOnce(&Fixture) -> Vec<Item>) {
    let f = Fixture::load(name);
    let got = f.parse().items;
    let want = expected(&f);
    assert_eq!(got.len(), want.len(), "{name}: item count\n{got:#?}");
    for (i, (got, want)) in got.iter().zip(&want).enumerate() {
        assert_eq!(got, want, "{name}: item {i}");
    }
}

/// Parses fixture `name`, asserts it holds exactly one Conversation, and hands it over.
#[track_caller]
fn only_conversation(name: &str) -> (Fixture, Item, Conversation) {
    let f = Fixture::load(name);
    let items = f.parse().items;
    assert_eq!(items.len(), 1, "{name}: {items:#?}");
    let item = items.into_iter().next().unwrap();
    let ItemBody::Conversation(c) = item.body.clone() else {
        panic!("{name}: {item:#?}")
    };
    (f, item, c)
}

#[track_caller]
fn message_of(c: &Conversation) -> &MessageBody {
    match &c.kind {
        InboundKind::Message(m) => m,
        other => panic!("not a message: {other:?}"),
    }
}

fn ig(id: &str) -> RouteKey {
    RouteKey::Instagram(id.to_owned())
}

fn wa(id: &str) -> RouteKey {
    RouteKey::WhatsApp(id.to_owned())
}

fn item(route_keys: Vec<RouteKey>, dedup_key: String, c: Conversation) -> Item {
    Item {
        route_keys,
        dedup_key,
        body: ItemBody::Conversation(c),
    }
}

/// An Instagram DM event with the customer known by IGSID.
fn dm(customer: &str, direction: Direction, at: Option<Millis>, kind: InboundKind) -> Conversation {
    Conversation {
        channel: Channel::InstagramDm,
        thread_key: format!("dm:{customer}"),
        customer: Customer::new(CustomerId::Igsid(customer.to_owned())),
        direction,
        occurred_at: at,
        standby: false,
        kind,
    }
}

fn wa_conv(
    wa_id: &str,
    name: Option<&str>,
    direction: Direction,
    at: Option<Millis>,
    kind: InboundKind,
) -> Conversation {
    Conversation {
        channel: Channel::WhatsApp,
        thread_key: format!("wa:{wa_id}"),
        customer: Customer {
            id: CustomerId::WhatsApp(wa_id.to_owned()),
            username: None,
            name: name.map(str::to_owned),
        },
        direction,
        occurred_at: at,
        standby: false,
        kind,
    }
}

fn text_message(mid: &str, text: &str) -> InboundKind {
    InboundKind::Message(MessageBody {
        mid: mid.to_owned(),
        text: Some(text.to_owned()),
        ..MessageBody::default()
    })
}

/// The relay's tenants in the end-to-end tests: the first key naming a channel wins.
fn tenant_of(keys: &[RouteKey]) -> Option<&'static str> {
    keys.iter().find_map(|k| match k {
        RouteKey::Instagram(id) if id == IG_A || id == PAGE_A => Some("a"),
        RouteKey::Instagram(id) if id == IG_B => Some("b"),
        RouteKey::WhatsApp(id) if id == WA_A => Some("a"),
        RouteKey::WhatsApp(id) if id == WA_B => Some("b"),
        _ => None,
    })
}

/// The protocol's own kind name of what an item would be stored as.
fn kind_name(body: &ItemBody) -> &'static str {
    let channel_id = ChannelId::new("ch");
    let event = match body.clone() {
        ItemBody::Conversation(c) => EventBody::Inbound(InboundEvent {
            channel_id,
            channel: c.channel,
            thread: ThreadId::new(c.thread_key),
            customer: c.customer,
            direction: c.direction,
            occurred_at: c.occurred_at.unwrap_or_default(),
            standby: c.standby,
            kind: c.kind,
        }),
        ItemBody::Account { occurred_at, kind } => EventBody::Account(protocol::AccountEvent {
            channel_id,
            occurred_at: occurred_at.unwrap_or_default(),
            kind,
        }),
        ItemBody::Unknown { kind, raw } => EventBody::Unknown(protocol::UnknownEvent {
            channel_id,
            object: String::new(),
            kind,
            raw,
        }),
    };
    event.kind_name()
}

// ---------------------------------------------------------------- manifest

#[test]
fn every_fixture_matches_the_manifest() {
    let manifest: Vec<Value> = serde_json::from_str(&Fixture::load("manifest.json").text).unwrap();
    let listed: BTreeSet<String> = manifest
        .iter()
        .map(|m| m["file"].as_str().unwrap().to_owned())
        .collect();
    let on_disk: BTreeSet<String> = std::fs::read_dir(fixture_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json") && n != "manifest.json")
        .collect();
    assert_eq!(listed, on_disk, "manifest and fixture files differ");
    assert_eq!(listed.len(), manifest.len(), "a file is listed twice");

    // Across files, no two items may share Meta's identity, or the end-to-end tests
    // would see one file's items swallowed as retries of another's.
    let mut owner: HashMap<String, String> = HashMap::new();
    for m in &manifest {
        let file = m["file"].as_str().unwrap();
        let f = Fixture::load(file);
        let envelope = f.parse();
        let endpoint = if envelope.object == "whatsapp_business_account" {
            "whatsapp"
        } else {
            "instagram"
        };
        assert_eq!(m["endpoint"], endpoint, "{file}: endpoint");

        let mut in_file = BTreeSet::new();
        let mut stored = Vec::new();
        for item in &envelope.items {
            if !in_file.insert(item.dedup_key.clone()) {
                continue; // a redelivery inside one body is stored once
            }
            if let Some(previous) = owner.insert(item.dedup_key.clone(), file.to_owned()) {
                panic!("{file} and {previous} share dedup key {}", item.dedup_key);
            }
            if let Some(tenant) = tenant_of(&item.route_keys) {
                stored.push(json!({"tenant": tenant, "kind": kind_name(&item.body)}));
            }
        }
        assert_eq!(Value::Array(stored), m["expect"], "{file}: stored items");
        if !file.contains("duplicate") {
            assert_eq!(
                in_file.len(),
                envelope.items.len(),
                "{file}: duplicate dedup keys"
            );
        }
    }
}

// ---------------------------------------------------------------- Instagram messaging

#[test]
fn ig_text() {
    check("ig_text.json", |f| {
        let mid = f.s("/entry/0/messaging/0/message/mid");
        vec![item(
            vec![ig(IG_A)],
            format!("m:{mid}"),
            dm(
                CUSTOMER,
                Direction::Inbound,
                f.t("/entry/0/messaging/0/timestamp"),
                text_message(&mid, "Hi! Is the blue jacket still available in size M?"),
            ),
        )]
    });
}

#[test]
fn ig_echo_is_outbound_to_the_recipient() {
    check("ig_echo.json", |f| {
        let mid = f.s("/entry/0/messaging/0/message/mid");
        vec![item(
            vec![ig(IG_A)],
            format!("m:{mid}"),
            dm(
                CUSTOMER,
                Direction::Outbound,
                f.t("/entry/0/messaging/0/timestamp"),
                text_message(&mid, "Yes! Size M is in stock."),
            ),
        )]
    });
}

#[test]
fn ig_share_and_ig_post_pair() {
    let (f, _, c) = only_conversation("ig_post_share.json");
    let attachment = |kind| Attachment {
        url: Some("https://www.instagram.com/p/DAbCdEfGhIj/".into()),
        title: Some("Our new store is open".into()),
        reference_id: Some("18060000000000001".into()),
        ..Attachment::new(kind)
    };
    assert_eq!(
        message_of(&c),
        &MessageBody {
            mid: f.s("/entry/0/messaging/0/message/mid"),
            attachments: vec![
                attachment(AttachmentKind::Share),
                attachment(AttachmentKind::Post)
            ],
            ..MessageBody::default()
        }
    );
}

#[track_caller]
fn check_attachments(name: &str, expected: &[(AttachmentKind, Option<&str>, Option<&str>)]) {
    let f = Fixture::load(name);
    let got: Vec<(AttachmentKind, Option<String>, Option<String>)> = f
        .parse()
        .items
        .iter()
        .flat_map(|i| match &i.body {
            ItemBody::Conversation(c) => message_of(c).attachments.clone(),
            other => panic!("{other:?}"),
        })
        .map(|a| {
            (
                a.kind,
                a.reference_id,
                a.url.map(|u| u[..u.len().min(40)].to_owned()),
            )
        })
        .collect();
    let want: Vec<(AttachmentKind, Option<String>, Option<String>)> = expected
        .iter()
        .map(|(k, r, u)| (k.clone(), r.map(str::to_owned), u.map(str::to_owned)))
        .collect();
    assert_eq!(got, want, "{name}");
}

#[test]
fn ig_attachment_types() {
    const CDN: &str = "https://lookaside.fbsbx.com/ig_messaging";
    use AttachmentKind as K;
    check_attachments(
        "ig_attachments.json",
        &[
            (K::Image, None, Some(CDN)),
            (K::Video, None, Some(CDN)),
            (K::Audio, None, Some(CDN)),
            (K::File, None, Some(CDN)),
        ],
    );
    check_attachments(
        "ig_reel.json",
        &[
            (K::Reel, Some("18070000000000001"), Some(CDN)),
            (K::Reel, Some("18070000000000002"), Some(CDN)),
        ],
    );
    check_attachments("ig_ephemeral.json", &[(K::Ephemeral, None, None)]);
    check_attachments(
        "ig_story_attachment.json",
        &[(K::Story, Some("18050000000000001"), Some(CDN))],
    );
    check_attachments("ig_like_heart.json", &[(K::LikeHeart, None, None)]);
    check_attachments(
        "ig_story_mention.json",
        &[(K::StoryMention, None, Some(CDN))],
    );
    check_attachments(
        "ig_fallback.json",
        &[
            (K::Share, None, Some("https://example.com/shipping")),
            (K::Share, None, None),
        ],
    );
    check_attachments(
        "ig_unknown_attachment_type.json",
        &[(K::Unsupported("poll".into()), None, None)],
    );
}

#[test]
fn ig_message_extras() {
    let (_, _, c) = only_conversation("ig_story_reply.json");
    assert_eq!(
        message_of(&c).reply_to,
        Some(ReplyTo::Story {
            id: Some("18050000000000002".into()),
            url: Some(
                "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17800000000009&signature=AbzK0fakeSig"
                    .into()
            ),
        })
    );

    let (f, _, c) = only_conversation("ig_inline_reply.json");
    let replied = f.s("/entry/0/messaging/0/message/reply_to/mid");
    assert_eq!(
        message_of(&c).reply_to,
        Some(ReplyTo::Message { mid: replied })
    );

    let (_, _, c) = only_conversation("ig_quick_reply.json");
    assert_eq!(message_of(&c).quick_reply.as_deref(), Some("TRACK_ORDER"));

    let (_, _, c) = only_conversation("ig_unsupported.json");
    assert!(message_of(&c).is_unsupported);

    let items = Fixture::load("ig_message_referral.json").parse().items;
    let referrals: Vec<Option<Referral>> = items
        .iter()
        .map(|i| match &i.body {
            ItemBody::Conversation(c) => message_of(c).referral.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        referrals,
        vec![
            Some(Referral {
                reference: Some("spring_sale".into()),
                source: Some("ADS".into()),
                kind: Some("OPEN_THREAD".into()),
                ad_id: Some("120200000000000001".into()),
                ad_title: Some("Spring sale -30%".into()),
                image_url: Some("https://scontent.xx.fbcdn.net/v/ad1.jpg".into()),
                ..Referral::default()
            }),
            Some(Referral {
                product_id: Some("7000000000000001".into()),
                ..Referral::default()
            }),
        ]
    );
}

#[test]
fn ig_self_messaging() {
    check("ig_self_messaging.json", |f| {
        let mid = f.s("/entry/0/messaging/0/message/mid");
        let pb_mid = f.s("/entry/0/messaging/1/postback/mid");
        vec![
            item(
                vec![ig(IG_A)],
                format!("m:{mid}"),
                dm(
                    IG_A,
                    Direction::Outbound,
                    f.t("/entry/0/messaging/0/timestamp"),
                    InboundKind::Message(MessageBody {
                        mid,
                        text: Some("Note to self: restock jackets".into()),
                        is_self: true,
                        ..MessageBody::default()
                    }),
                ),
            ),
            item(
                vec![ig(IG_A)],
                format!("pb:{pb_mid}"),
                dm(
                    IG_A,
                    Direction::Inbound,
                    f.t("/entry/0/messaging/1/timestamp"),
                    InboundKind::Postback(Postback {
                        mid: Some(pb_mid),
                        title: Some("Get started".into()),
                        payload: Some("GET_STARTED".into()),
                        referral: None,
                    }),
                ),
            ),
        ]
    });
}

#[test]
fn ig_deleted() {
    check("ig_deleted.json", |f| {
        let mid = f.s("/entry/0/messaging/0/message/mid");
        vec![item(
            vec![ig(IG_A)],
            format!("del:{mid}"),
            dm(
                CUSTOMER,
                Direction::Inbound,
                f.t("/entry/0/messaging/0/timestamp"),
                InboundKind::Deleted { mid },
            ),
        )]
    });
}

#[test]
fn ig_reactions() {
    for (name, action, reaction, emoji) in [
        (
            "ig_reaction.json",
            ReactionAction::React,
            Some("love"),
            Some("\u{2764}\u{fe0f}"),
        ),
        ("ig_unreact.json", ReactionAction::Unreact, None, None),
    ] {
        check(name, |f| {
            let mid = f.s("/entry/0/messaging/0/reaction/mid");
            let at = f.t("/entry/0/messaging/0/timestamp");
            let verb = if action == ReactionAction::React {
                "react"
            } else {
                "unreact"
            };
            vec![item(
                vec![ig(IG_A)],
                format!(
                    "rx:{mid}:{verb}:{}:{}",
                    reaction.unwrap_or("-"),
                    at.unwrap().0
                ),
                dm(
                    CUSTOMER,
                    Direction::Inbound,
                    at,
                    InboundKind::Reaction(Reaction {
                        mid,
                        action,
                        reaction: reaction.map(str::to_owned),
                        emoji: emoji.map(str::to_owned),
                    }),
                ),
            )]
        });
    }
}

#[test]
fn ig_edits_with_numeric_and_string_counters() {
    for (name, n, text) in [
        ("ig_edit_numeric.json", 1, "Size L please, not M"),
        ("ig_edit_string.json", 2, "Size XL please"),
    ] {
        check(name, |f| {
            let mid = f.s("/entry/0/messaging/0/message_edit/mid");
            vec![item(
                vec![ig(IG_A)],
                format!("ed:{mid}:{n}"),
                dm(
                    CUSTOMER,
                    Direction::Inbound,
                    f.t("/entry/0/messaging/0/timestamp"),
                    InboundKind::Edit(Edit {
                        mid,
                        text: Some(text.into()),
                        num_edit: Some(n),
                    }),
                ),
            )]
        });
    }
}

#[test]
fn ig_edit_without_counter_hashes_the_text() {
    let body = json!({"object": "instagram", "entry": [{"id": IG_A, "messaging": [{
        "sender": {"id": CUSTOMER}, "recipient": {"id": IG_A}, "timestamp": 1756650104449_i64,
        "message_edit": {"mid": "m1", "text": "fixed"}}]}]});
    let items = parse(body.to_string().as_bytes()).unwrap().items;
    assert_eq!(
        items[0].dedup_key,
        format!("ed:m1:{}", json::sha256_hex(&["fixed"]))
    );
}

#[test]
fn ig_postbacks_referral_and_reads() {
    check("ig_postback_no_mid.json", |f| {
        let at = f.t("/entry/0/messaging/0/timestamp");
        vec![item(
            vec![ig(IG_A)],
            format!("pb:{CUSTOMER}:{}:MENU_HUMAN", at.unwrap().0),
            dm(
                CUSTOMER,
                Direction::Inbound,
                at,
                InboundKind::Postback(Postback {
                    mid: None,
                    title: Some("Talk to a human".into()),
                    payload: Some("MENU_HUMAN".into()),
                    referral: None,
                }),
            ),
        )]
    });

    let (_, _, c) = only_conversation("ig_postback_referral.json");
    let InboundKind::Postback(p) = c.kind else {
        panic!()
    };
    assert_eq!(
        p.referral.and_then(|r| r.reference).as_deref(),
        Some("winter_campaign")
    );

    check("ig_referral.json", |f| {
        let at = f.t("/entry/0/messaging/0/timestamp");
        vec![item(
            vec![ig(IG_A)],
            format!("ref:{CUSTOMER}:{}:bio_link", at.unwrap().0),
            dm(
                CUSTOMER,
                Direction::Inbound,
                at,
                InboundKind::Referral(Referral {
                    reference: Some("bio_link".into()),
                    source: Some("SHORTLINK".into()),
                    kind: Some("OPEN_THREAD".into()),
                    ..Referral::default()
                }),
            ),
        )]
    });

    let (f, item_, c) = only_conversation("ig_seen.json");
    let mid = f.s("/entry/0/messaging/0/read/mid");
    assert_eq!(item_.dedup_key, format!("rd:{CUSTOMER}:{mid}"));
    assert_eq!(
        c.kind,
        InboundKind::Read {
            mid: Some(mid),
            watermark: None
        }
    );

    let (f, item_, c) = only_conversation("ig_seen_watermark.json");
    let watermark = f.t("/entry/0/messaging/0/read/watermark");
    assert_eq!(
        item_.dedup_key,
        format!("rd:{CUSTOMER}:{}", watermark.unwrap().0)
    );
    assert_eq!(
        c.kind,
        InboundKind::Read {
            mid: None,
            watermark
        }
    );
}

#[test]
fn ig_standby_and_optin() {
    let items = Fixture::load("ig_standby.json").parse().items;
    assert_eq!(items.len(), 2);
    for i in &items {
        let ItemBody::Conversation(c) = &i.body else {
            panic!()
        };
        assert!(c.standby);
    }

    let (f, item_, c) = only_conversation("ig_optin.json");
    let raw = serde_json::to_string(f.v("/entry/0/messaging/0")).unwrap();
    assert_eq!(
        item_.dedup_key,
        format!("raw:{}", json::sha256_hex(&[IG_A, &raw]))
    );
    assert_eq!(c.kind, InboundKind::OptIn { raw });
}

#[test]
fn ig_page_style_ids() {
    check("ig_page_style.json", |f| {
        let inbound = f.s("/entry/0/messaging/0/message/mid");
        let echo = f.s("/entry/0/messaging/1/message/mid");
        vec![
            item(
                vec![ig(PAGE_A)],
                format!("m:{inbound}"),
                dm(
                    PSID,
                    Direction::Inbound,
                    f.t("/entry/0/messaging/0/timestamp"),
                    text_message(&inbound, "Hallo, habt ihr am Samstag offen?"),
                ),
            ),
            item(
                vec![ig(PAGE_A)],
                format!("m:{echo}"),
                dm(
                    PSID,
                    Direction::Outbound,
                    f.t("/entry/0/messaging/1/timestamp"),
                    text_message(&echo, "Ja, 10-18 Uhr."),
                ),
            ),
        ]
    });
}

#[test]
fn ig_route_keys_name_entry_then_business() {
    let body = json!({"object": "instagram", "entry": [{"id": PAGE_A, "messaging": [
        {"sender": {"id": CUSTOMER}, "recipient": {"id": IG_A}, "timestamp": 1, "message": {"mid": "x1", "text": "a"}},
        {"sender": {"id": IG_A}, "recipient": {"id": CUSTOMER}, "timestamp": 1, "message": {"mid": "x2", "text": "b", "is_echo": true}}
    ]}]});
    let items = parse(body.to_string().as_bytes()).unwrap().items;
    assert_eq!(items[0].route_keys, vec![ig(PAGE_A), ig(IG_A)]);
    assert_eq!(items[1].route_keys, vec![ig(PAGE_A), ig(IG_A)]);
}

#[test]
fn ig_batched_entries_keep_order_and_accounts() {
    let items = Fixture::load("ig_batched.json").parse().items;
    let keys: Vec<&RouteKey> = items.iter().map(|i| &i.route_keys[0]).collect();
    let (a, b, unknown) = (ig(IG_A), ig(IG_B), ig("17841499999999999"));
    assert_eq!(keys, vec![&a, &a, &a, &b, &b, &unknown]);
}

#[test]
fn docs_array_form_is_flattened() {
    let envelope = Fixture::load("ig_docs_array_wrapped.json").parse();
    assert_eq!(envelope.object, "instagram");
    let keys: Vec<Vec<RouteKey>> = envelope.items.into_iter().map(|i| i.route_keys).collect();
    assert_eq!(keys, vec![vec![ig(IG_A)], vec![ig(IG_B)]]);
}

#[test]
fn ig_unknown_messaging_keys_are_kept_verbatim() {
    check("ig_unknown_messaging_key.json", |f| {
        ["pass_thread_control", "policy_enforcement"]
            .iter()
            .enumerate()
            .map(|(i, kind)| {
                let raw = serde_json::to_string(f.v(&format!("/entry/0/messaging/{i}"))).unwrap();
                Item {
                    route_keys: vec![ig(IG_A)],
                    dedup_key: format!("raw:{}", json::sha256_hex(&[IG_A, &raw])),
                    body: ItemBody::Unknown {
                        kind: (*kind).into(),
                        raw,
                    },
                }
            })
            .collect()
    });
}

#[test]
fn ig_dashboard_test_payload() {
    let (_, item_, c) = only_conversation("ig_dashboard_test.json");
    assert_eq!(item_.route_keys, vec![ig("0"), ig("23245")]);
    assert_eq!(item_.dedup_key, "m:random_mid");
    assert_eq!(c.customer.id, CustomerId::Igsid("12334".into()));
    // The test button sends a string of seconds where real events carry ms.
    assert_eq!(c.occurred_at, Some(Millis(1_527_459_824_000)));
    assert_eq!(message_of(&c).text.as_deref(), Some("random_text"));
}

#[test]
fn non_ascii_text_round_trips() {
    for (name, text) in [
        (
            "ig_text_indonesian_emoji.json",
            "Halo kak 😊 masih ada stok ukuran M? 👍🏽",
        ),
        (
            "ig_text_accents.json",
            "Hej! Är tröjan kvar? äöå ÄÖÅ café naïve",
        ),
        ("ig_text_japanese.json", "こんにちは、在庫はありますか？🙏"),
        ("ig_text_arabic.json", "مرحبا، هل هذا المنتج متوفر؟"),
        (
            "ig_text_raw_utf8.json",
            "Halo kak 😊 — äöå, 日本語, العربية",
        ),
    ] {
        let (f, _, c) = only_conversation(name);
        assert_eq!(message_of(&c).text.as_deref(), Some(text), "{name}");
        // Meta's wire form escapes non-ASCII; the raw-UTF-8 file is the one exception.
        assert_eq!(f.text.is_ascii(), name != "ig_text_raw_utf8.json", "{name}");
    }
    let texts: Vec<String> = Fixture::load("wa_text_non_ascii.json")
        .parse()
        .items
        .into_iter()
        .map(|i| match i.body {
            ItemBody::Conversation(c) => message_of(&c).text.clone().unwrap(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        texts,
        [
            "Halo kak 😊, pesanan saya sudah dikirim?",
            "مرحبا، أين طلبي؟",
            "Skål! äöå ありがとう 🇫🇮"
        ]
    );
    let (_, _, c) = only_conversation("ig_comment_emoji.json");
    let InboundKind::Comment(comment) = c.kind else {
        panic!()
    };
    assert_eq!(
        comment.text.as_deref(),
        Some("Cantik banget kak 😍😍 ada warna lain?")
    );
}

// ---------------------------------------------------------------- Instagram changes

fn comment_conv(
    root: &str,
    customer: Customer,
    direction: Direction,
    at: Option<Millis>,
    comment: Comment,
) -> Conversation {
    Conversation {
        channel: Channel::InstagramComment,
        thread_key: format!("comment:{root}"),
        customer,
        direction,
        occurred_at: at,
        standby: false,
        kind: InboundKind::Comment(comment),
    }
}

fn feed(media: &str) -> CommentMedia {
    CommentMedia {
        id: Some(media.into()),
        product_type: Some("FEED".into()),
        ..CommentMedia::default()
    }
}

fn igsid_with(id: &str, username: &str) -> Customer {
    Customer {
        id: CustomerId::Igsid(id.into()),
        username: Some(username.into()),
        name: None,
    }
}

#[test]
fn ig_comment_in_changes() {
    check("ig_comment_changes.json", |f| {
        let id = f.s("/entry/0/changes/0/value/id");
        vec![item(
            vec![ig(IG_A)],
            format!("c:{id}"),
            comment_conv(
                &id,
                igsid_with(CUSTOMER, "some_user"),
                Direction::Inbound,
                // Comment entries carry seconds.
                Some(Millis(f.v("/entry/0/time").as_i64().unwrap() * 1000)),
                Comment {
                    id: id.clone(),
                    text: Some("nice".into()),
                    media: feed("18040000000000001"),
                    parent_id: None,
                    live: false,
                },
            ),
        )]
    });
}

#[test]
fn ig_comment_flat_with_username_only() {
    check("ig_comment_flat.json", |f| {
        let id = f.s("/entry/0/value/id");
        let seconds: i64 = f.s("/entry/0/time").parse().unwrap();
        vec![item(
            vec![ig(IG_A)],
            format!("c:{id}"),
            comment_conv(
                &id,
                Customer::new(CustomerId::InstagramUsername("docs_shape_user".into())),
                Direction::Inbound,
                Some(Millis(seconds * 1000)),
                Comment {
                    id: id.clone(),
                    text: Some("How much is shipping?".into()),
                    media: feed("18040000000000001"),
                    parent_id: None,
                    live: false,
                },
            ),
        )]
    });
}

#[test]
fn ig_comment_template_writes_comment_id() {
    let (f, item_, c) = only_conversation("ig_comment_template_comment_id.json");
    let id = f.s("/entry/0/changes/0/value/comment_id");
    assert_eq!(item_.dedup_key, format!("c:{id}"));
    assert_eq!(c.thread_key, format!("comment:{id}"));
}

#[test]
fn ig_comment_replies_thread_on_the_parent_and_own_replies_are_outbound() {
    let f = Fixture::load("ig_comment_reply_and_self.json");
    let root = f.s("/entry/0/changes/0/value/parent_id");
    let got: Vec<(String, Direction, Option<String>)> = f
        .parse()
        .items
        .into_iter()
        .map(|i| match i.body {
            ItemBody::Conversation(c) => match c.kind {
                InboundKind::Comment(comment) => (c.thread_key, c.direction, comment.parent_id),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        })
        .collect();
    let thread = format!("comment:{root}");
    assert_eq!(
        got,
        vec![
            (thread.clone(), Direction::Inbound, Some(root.clone())),
            (thread, Direction::Outbound, Some(root)),
        ]
    );
}

#[test]
fn ig_live_and_ad_comments() {
    let (_, _, c) = only_conversation("ig_live_comment.json");
    let InboundKind::Comment(comment) = c.kind else {
        panic!()
    };
    assert!(comment.live);

    let (_, _, c) = only_conversation("ig_comment_ad.json");
    let InboundKind::Comment(comment) = c.kind else {
        panic!()
    };
    assert_eq!(
        comment.media,
        CommentMedia {
            id: Some("18040000000000002".into()),
            product_type: Some("AD".into()),
            ad_id: Some("120200000000000002".into()),
            ad_title: Some("Spring sale".into()),
            original_media_id: Some("18040000000000003".into()),
        }
    );
}

#[test]
fn ig_mentions_and_story_insights() {
    check("ig_mentions.json", |_| {
        let at = Some(Millis(1_520_622_968_000));
        vec![
            Item {
                route_keys: vec![ig(IG_A)],
                dedup_key: "men:17920000000000001:-".into(),
                body: ItemBody::Account {
                    occurred_at: at,
                    kind: AccountEventKind::Mention {
                        media_id: Some("17920000000000001".into()),
                        comment_id: None,
                    },
                },
            },
            Item {
                route_keys: vec![ig(IG_A)],
                dedup_key: "men:17920000000000003:17920000000000002".into(),
                body: ItemBody::Account {
                    occurred_at: at,
                    kind: AccountEventKind::Mention {
                        media_id: Some("17920000000000003".into()),
                        comment_id: Some("17920000000000002".into()),
                    },
                },
            },
        ]
    });
    check("ig_story_insights.json", |f| {
        vec![Item {
            route_keys: vec![ig(IG_A)],
            dedup_key: "si:17880000000000001".into(),
            body: ItemBody::Account {
                occurred_at: f.t("/entry/0/time"),
                kind: AccountEventKind::StoryInsights {
                    media_id: Some("17880000000000001".into()),
                    impressions: Some(444),
                    reach: Some(44),
                    taps_forward: Some(4),
                    taps_back: Some(-1),
                    exits: Some(3),
                    replies: Some(0),
                },
            },
        }]
    });
}

#[test]
fn unknown_change_fields_and_objects() {
    for (name, kind, pointer) in [
        (
            "ig_unknown_change_field.json",
            "response_feedback",
            "/entry/0/changes/0",
        ),
        ("unknown_object.json", "name", "/entry/0/changes/0"),
    ] {
        check(name, |f| {
            let raw = serde_json::to_string(f.v(pointer)).unwrap();
            vec![Item {
                route_keys: vec![ig(IG_A)],
                dedup_key: format!("raw:{}", json::sha256_hex(&[IG_A, &raw])),
                body: ItemBody::Unknown {
                    kind: kind.into(),
                    raw,
                },
            }]
        });
    }
}

// ---------------------------------------------------------------- WhatsApp

#[test]
fn wa_text() {
    check("wa_text.json", |f| {
        let wamid = f.s("/entry/0/changes/0/value/messages/0/id");
        vec![item(
            vec![wa(WA_A)],
            format!("m:{wamid}"),
            wa_conv(
                WA_CUSTOMER,
                Some("Sheena Nelson"),
                Direction::Inbound,
                f.t("/entry/0/changes/0/value/messages/0/timestamp"),
                text_message(&wamid, "Hi, is the store open today?"),
            ),
        )]
    });
}

#[test]
fn wa_media() {
    for (name, kind) in [
        ("wa_image.json", AttachmentKind::Image),
        ("wa_video.json", AttachmentKind::Video),
        ("wa_audio_voice.json", AttachmentKind::Audio),
        ("wa_document.json", AttachmentKind::File),
        ("wa_sticker_animated.json", AttachmentKind::Sticker),
    ] {
        let (f, _, c) = only_conversation(name);
        let m = f.v("/entry/0/changes/0/value/messages/0");
        let media = &m[m["type"].as_str().unwrap()];
        let s = |k: &str| media.get(k).and_then(Value::as_str).map(str::to_owned);
        assert_eq!(
            message_of(&c),
            &MessageBody {
                mid: f.s("/entry/0/changes/0/value/messages/0/id"),
                attachments: vec![Attachment {
                    kind,
                    url: s("url"),
                    reference_id: s("id"),
                    caption: s("caption"),
                    filename: s("filename"),
                    mime_type: s("mime_type"),
                    sha256: s("sha256"),
                    voice: name == "wa_audio_voice.json",
                    animated: name == "wa_sticker_animated.json",
                    ..Attachment::new(AttachmentKind::Image)
                }],
                ..MessageBody::default()
            },
            "{name}"
        );
    }
    let (_, _, c) = only_conversation("wa_image.json");
    let image = &message_of(&c).attachments[0];
    assert!(image.url.is_some() && image.caption.is_some() && image.sha256.is_some());
    let (_, _, c) = only_conversation("wa_document.json");
    assert_eq!(
        message_of(&c).attachments[0].filename.as_deref(),
        Some("invoice-2025-001.pdf")
    );
}

#[test]
fn wa_reactions() {
    let (f, item_, c) = only_conversation("wa_reaction.json");
    let target = f.s("/entry/0/changes/0/value/messages/0/reaction/message_id");
    let at = f
        .t("/entry/0/changes/0/value/messages/0/timestamp")
        .unwrap();
    assert_eq!(item_.dedup_key, format!("rx:{target}:react:👍:{}", at.0));
    assert_eq!(
        c.kind,
        InboundKind::Reaction(Reaction {
            mid: target,
            action: ReactionAction::React,
            reaction: None,
            emoji: Some("👍".into())
        })
    );

    let f = Fixture::load("wa_unreaction.json");
    let kinds: Vec<InboundKind> = f
        .parse()
        .items
        .into_iter()
        .map(|i| match i.body {
            ItemBody::Conversation(c) => c.kind,
            other => panic!("{other:?}"),
        })
        .collect();
    let unreact = |i: usize| {
        InboundKind::Reaction(Reaction {
            mid: f.s(&format!(
                "/entry/0/changes/0/value/messages/{i}/reaction/message_id"
            )),
            action: ReactionAction::Unreact,
            reaction: None,
            emoji: None,
        })
    };
    assert_eq!(kinds, vec![unreact(0), unreact(1)]);
}

#[track_caller]
fn check_structured(name: &str, expected: Structured) {
    let (_, _, c) = only_conversation(name);
    assert_eq!(
        message_of(&c).structured.as_ref(),
        Some(&expected),
        "{name}"
    );
}

#[test]
fn wa_structured_types() {
    check_structured(
        "wa_location.json",
        Structured::Location {
            latitude: -8.65,
            longitude: 115.2167,
            name: Some("Toko Kami".into()),
            address: Some("Jl. Raya Kuta No. 1, Bali".into()),
            url: Some("https://maps.example.com/toko".into()),
        },
    );
    check_structured(
        "wa_contacts.json",
        Structured::Contacts {
            contacts: vec![
                protocol::inbound::SharedContact {
                    name: Some("Budi Santoso".into()),
                    phones: vec!["+62 812 3456 7890".into()],
                },
                protocol::inbound::SharedContact {
                    name: Some("Ana".into()),
                    phones: vec!["+1 650 555 0000".into()],
                },
            ],
        },
    );
    check_structured(
        "wa_interactive_button_reply.json",
        Structured::Interactive {
            kind: "button_reply".into(),
            id: Some("confirm_yes".into()),
            title: Some("Yes, confirm".into()),
            description: None,
            response_json: None,
        },
    );
    check_structured(
        "wa_interactive_list_reply.json",
        Structured::Interactive {
            kind: "list_reply".into(),
            id: Some("size_m".into()),
            title: Some("Size M".into()),
            description: Some("Chest 96-101 cm".into()),
            response_json: None,
        },
    );
    check_structured(
        "wa_interactive_nfm_reply.json",
        Structured::Interactive {
            kind: "nfm_reply".into(),
            id: None,
            title: Some("flow".into()),
            description: Some("Sent".into()),
            response_json: Some(r#"{"flow_token":"ft_0001","size":"M","colour":"blue"}"#.into()),
        },
    );
    check_structured(
        "wa_button.json",
        Structured::Button {
            text: Some("Stop promotions".into()),
            payload: Some("STOP_PROMOS".into()),
        },
    );
    check_structured(
        "wa_order.json",
        Structured::Order {
            catalog_id: Some("1430000000000001".into()),
            text: Some("Please deliver tomorrow".into()),
            items: vec![
                protocol::inbound::OrderItem {
                    product_retailer_id: Some("SKU-JACKET-M".into()),
                    quantity: Some(1),
                    item_price: Some(49.9),
                    currency: Some("EUR".into()),
                },
                protocol::inbound::OrderItem {
                    product_retailer_id: Some("SKU-SCARF".into()),
                    quantity: Some(2),
                    item_price: Some(12.5),
                    currency: Some("EUR".into()),
                },
            ],
        },
    );
    check_structured(
        "wa_system.json",
        Structured::System {
            kind: Some("user_changed_number".into()),
            body: Some("Sheena changed their phone number to a new number.".into()),
            new_wa_id: Some("16505550000".into()),
        },
    );
}

#[test]
fn wa_unsupported_and_unknown_types_stay_in_the_thread() {
    let (_, _, c) = only_conversation("wa_unsupported.json");
    let m = message_of(&c);
    assert!(m.is_unsupported);
    assert_eq!(
        m.errors,
        vec![ProviderError {
            code: Some(131_051),
            title: Some("Message type unknown".into()),
            message: Some("Message type unknown".into()),
            details: Some("Message type is currently not supported.".into()),
        }]
    );

    let (_, _, c) = only_conversation("wa_unknown_type.json");
    let m = message_of(&c);
    assert!(m.is_unsupported);
    assert_eq!(
        m.attachments,
        vec![Attachment::new(AttachmentKind::Unsupported(
            "request_welcome".into()
        ))]
    );
}

#[test]
fn wa_context_forward_and_referral() {
    let (f, _, c) = only_conversation("wa_context_reply.json");
    let replied = f.s("/entry/0/changes/0/value/messages/0/context/id");
    assert_eq!(
        message_of(&c).reply_to,
        Some(ReplyTo::Message { mid: replied })
    );
    assert_eq!(message_of(&c).forwarded, Forwarded::No);

    let forwarded: Vec<Forwarded> = Fixture::load("wa_forwarded.json")
        .parse()
        .items
        .into_iter()
        .map(|i| match i.body {
            ItemBody::Conversation(c) => message_of(&c).forwarded,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        forwarded,
        vec![Forwarded::Forwarded, Forwarded::FrequentlyForwarded]
    );

    let (_, _, c) = only_conversation("wa_referral_ctwa.json");
    let r = message_of(&c).referral.clone().unwrap();
    assert_eq!(r.source.as_deref(), Some("ad"));
    assert_eq!(r.source_id.as_deref(), Some("120200000000000003"));
    assert_eq!(r.headline.as_deref(), Some("Winter jackets -30%"));
    assert!(r.click_id.unwrap().starts_with("ARAkLkA8"));
}

#[test]
fn wa_status_failed_with_errors() {
    check("wa_status_failed.json", |f| {
        let wamid = f.s("/entry/0/changes/0/value/statuses/0/id");
        vec![item(
            vec![wa(WA_A)],
            format!("st:{wamid}:failed"),
            wa_conv(
                WA_CUSTOMER,
                None,
                Direction::Outbound,
                f.t("/entry/0/changes/0/value/statuses/0/timestamp"),
                InboundKind::Status(DeliveryStatus {
                    message_id: wamid,
                    status: StatusKind::Failed,
                    errors: vec![ProviderError {
                        code: Some(131_047),
                        title: Some("Re-engagement message".into()),
                        message: Some("Re-engagement message".into()),
                        details: Some(
                            "Message failed to send because more than 24 hours have passed since the customer last replied to this number."
                                .into(),
                        ),
                    }],
                    conversation_id: None,
                    conversation_expires_at: None,
                    conversation_origin: None,
                    pricing_category: None,
                    pricing_model: None,
                    billable: None,
                    biz_opaque_callback_data: None,
                }),
            ),
        )]
    });
}

#[test]
fn wa_status_expiration_as_string_and_integer() {
    for (name, status) in [
        ("wa_status_sent.json", StatusKind::Sent),
        ("wa_status_delivered.json", StatusKind::Delivered),
    ] {
        let (_, item_, c) = only_conversation(name);
        let InboundKind::Status(s) = c.kind else {
            panic!()
        };
        assert_eq!(
            item_.dedup_key,
            format!("st:{}:{}", s.message_id, status.as_str())
        );
        assert_eq!(s.status, status);
        assert_eq!(
            s.conversation_expires_at,
            Some(Millis(1_749_502_783_000)),
            "{name}"
        );
        assert_eq!(
            s.conversation_id.as_deref(),
            Some("4f1e5a0f1b2c3d4e5f60718293a4b5c6")
        );
        assert_eq!(s.conversation_origin.as_deref(), Some("service"));
        assert_eq!(s.pricing_model.as_deref(), Some("CBP"));
        assert_eq!(s.billable, Some(true));
    }
    let (_, _, c) = only_conversation("wa_status_sent.json");
    let InboundKind::Status(s) = c.kind else {
        panic!()
    };
    assert_eq!(s.biz_opaque_callback_data.as_deref(), Some("order-42"));
}

#[test]
fn wa_batched_routes_each_number() {
    let items = Fixture::load("wa_batched.json").parse().items;
    let got: Vec<(RouteKey, String)> = items
        .into_iter()
        .map(|i| match i.body {
            ItemBody::Conversation(c) => (i.route_keys[0].clone(), c.customer.handle()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (wa(WA_A), "Sheena Nelson".into()),
            (wa(WA_A), "Ana".into()),
            (wa(WA_A), WA_CUSTOMER.into()),
            (wa(WA_B), "Oliver".into()),
        ]
    );
}

#[test]
fn wa_other_fields_are_unknown() {
    for (name, kind, key) in [
        ("wa_unknown_field_calls.json", "calls", wa(WA_A)),
        ("wa_value_errors_only.json", "messages", wa(WA_A)),
        // No phone number id: the WABA id is the last resort.
        (
            "wa_template_status_update.json",
            "message_template_status_update",
            wa(WABA_A),
        ),
    ] {
        check(name, |f| {
            let raw = serde_json::to_string(f.v("/entry/0/changes/0")).unwrap();
            vec![Item {
                route_keys: vec![key.clone()],
                dedup_key: format!("raw:{}", json::sha256_hex(&[WABA_A, &raw])),
                body: ItemBody::Unknown {
                    kind: kind.into(),
                    raw,
                },
            }]
        });
    }
}

// ---------------------------------------------------------------- leniency

/// Parses an inline body and renders each item as `kind route dedup-prefix`.
#[track_caller]
fn check_inline(body: Value, expected: &[&str]) {
    let items = parse(body.to_string().as_bytes()).unwrap().items;
    let got: Vec<String> = items
        .iter()
        .map(|i| {
            let kind = match &i.body {
                ItemBody::Unknown { kind, .. } => format!("unknown({kind})"),
                other => kind_name(other).to_owned(),
            };
            let dedup = i.dedup_key.split(':').next().unwrap_or_default();
            format!("{kind} {:?} {dedup}", i.route_keys)
        })
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn incomplete_items_become_unknown() {
    // No sender.
    check_inline(
        json!({"object": "instagram", "entry": [{"id": "1", "messaging": [
            {"recipient": {"id": "1"}, "timestamp": 1, "message": {"mid": "m", "text": "t"}}]}]}),
        &[r#"unknown(message) [Instagram("1")] raw"#],
    );
    // No mid, a non-object item, an item with no event key, a read of nothing.
    check_inline(
        json!({"object": "instagram", "entry": [{"id": "1", "messaging": [
            {"sender": {"id": "2"}, "recipient": {"id": "1"}, "message": {"text": "t"}},
            42,
            {"sender": {"id": "2"}, "recipient": {"id": "1"}, "timestamp": 5},
            {"sender": {"id": "2"}, "recipient": {"id": "1"}, "read": {}}]}]}),
        &[
            r#"unknown(message) [Instagram("1")] raw"#,
            r#"unknown(messaging) [Instagram("1")] raw"#,
            r#"unknown(messaging) [Instagram("1")] raw"#,
            r#"unknown(read) [Instagram("1")] raw"#,
        ],
    );
    // A comment without id, a mention without ids, a change without field, a non-object entry.
    check_inline(
        json!({"object": "instagram", "entry": [
            {"id": "1", "changes": [
                {"field": "comments", "value": {"from": {"id": "2"}, "text": "x"}},
                {"field": "comments", "value": {"id": "c1", "text": "no author"}},
                {"field": "mentions", "value": {}},
                {"value": {}}]},
            "nonsense"]}),
        &[
            r#"unknown(comments) [Instagram("1")] raw"#,
            r#"unknown(comments) [Instagram("1")] raw"#,
            r#"unknown(mentions) [Instagram("1")] raw"#,
            r#"unknown(changes) [Instagram("1")] raw"#,
            "unknown(entry) [] raw",
        ],
    );
    // WhatsApp message without from, status without recipient, a stray messaging list.
    check_inline(
        json!({"object": "whatsapp_business_account", "entry": [{"id": "w", "messaging": [{}], "changes": [
            {"field": "messages", "value": {"metadata": {"phone_number_id": "p"},
                "messages": [{"id": "wamid.1", "type": "text", "text": {"body": "x"}}],
                "statuses": [{"id": "wamid.2", "status": "sent"}]}}]}]}),
        &[
            r#"unknown(messaging) [WhatsApp("w")] raw"#,
            r#"unknown(messages) [WhatsApp("p")] raw"#,
            r#"unknown(statuses) [WhatsApp("p")] raw"#,
        ],
    );
    // Entries carrying nothing known are kept whole; empty ones yield nothing.
    check_inline(
        json!({"object": "instagram", "entry": [
            {"id": "1", "time": 1, "messaging": []},
            {"id": "1", "hop_context": [{"app_id": "x"}]}]}),
        &[r#"unknown(entry) [Instagram("1")] raw"#],
    );
    // Other objects keep every item as Unknown under its event key or field.
    check_inline(
        json!({"object": "permissions", "entry": [{"id": "9", "changes": [{"field": "f", "value": 1}],
            "messaging": [{"sender": {"id": "2"}, "recipient": {"id": "9"}, "delivery": {}}]}]}),
        &[
            r#"unknown(delivery) [Instagram("9")] raw"#,
            r#"unknown(f) [Instagram("9")] raw"#,
        ],
    );
}

#[test]
fn odd_but_usable_values_are_accepted() {
    // Numeric ids, a lone object where an array belongs, a string `true`.
    check_inline(
        json!({"object": "instagram", "entry": [{"id": 17841400000000001_u64, "messaging": {
            "sender": {"id": 17841400000000001_u64}, "recipient": {"id": 5}, "timestamp": "x",
            "message": {"mid": "m9", "text": "hi", "is_echo": "true"}}}]}),
        &[r#"message [Instagram("17841400000000001")] m"#],
    );
    // A WhatsApp reaction without target, location without coordinates.
    check_inline(
        json!({"object": "whatsapp_business_account", "entry": [{"id": "w", "changes": [
            {"field": "messages", "value": {"metadata": {"phone_number_id": "p"}, "messages": [
                {"from": "1", "id": "wamid.r", "type": "reaction", "reaction": {"emoji": "x"}},
                {"from": "1", "id": "wamid.l", "type": "location", "location": {"name": "nowhere"}}]}}]}]}),
        &[
            r#"unknown(messages) [WhatsApp("p")] raw"#,
            r#"message [WhatsApp("p")] m"#,
        ],
    );
}

#[track_caller]
fn check_time(input: Value, expected: Option<i64>) {
    assert_eq!(millis(&input), expected.map(Millis), "{input}");
}

#[test]
fn times_in_seconds_ms_and_strings() {
    check_time(json!(1_756_650_104_449_i64), Some(1_756_650_104_449)); // IG messaging, ms
    check_time(json!(1_733_997_830), Some(1_733_997_830_000)); // comment entry, seconds
    check_time(json!("1749416383"), Some(1_749_416_383_000)); // WhatsApp, string seconds
    check_time(json!("1756650104449"), Some(1_756_650_104_449)); // string ms
    check_time(json!(" 1749416383 "), Some(1_749_416_383_000));
    check_time(json!(99_999_999_999_i64), Some(99_999_999_999_000)); // just below the cut
    check_time(json!(100_000_000_000_i64), Some(100_000_000_000)); // at the cut: ms
    check_time(json!(1_733_997_830.5), Some(1_733_997_830_500));
    check_time(json!(0), Some(0));
    check_time(json!("2024-12-12T10:00:00+0000"), None); // chatwoot's ISO strings
    check_time(json!("<TIME>"), None);
    check_time(json!(""), None);
    check_time(json!(-5), None);
    check_time(json!("-5"), None);
    check_time(json!(u64::MAX), None);
    check_time(json!(1e300), None);
    check_time(json!(null), None);
    check_time(json!(true), None);
    check_time(json!("99999999999999999999999"), None);
}

#[test]
fn item_timestamp_wins_over_entry_time() {
    let with = json!({"object": "instagram", "entry": [{"id": "1", "time": 1_733_997_830, "messaging": [
        {"sender": {"id": "2"}, "recipient": {"id": "1"}, "timestamp": 1_756_650_104_449_i64, "message": {"mid": "a"}},
        {"sender": {"id": "2"}, "recipient": {"id": "1"}, "timestamp": "2024-01-01T00:00:00Z", "message": {"mid": "b"}}]}]});
    let at: Vec<Option<Millis>> = parse(with.to_string().as_bytes())
        .unwrap()
        .items
        .into_iter()
        .map(|i| match i.body {
            ItemBody::Conversation(c) => c.occurred_at,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        at,
        vec![
            Some(Millis(1_756_650_104_449)),
            Some(Millis(1_733_997_830_000))
        ]
    );
}

// ---------------------------------------------------------------- malformed bodies

#[track_caller]
fn check_err(body: &str, json_error: bool) {
    match parse(body.as_bytes()) {
        Err(ParseError::Json(_)) if json_error => {}
        Err(ParseError::NotEnvelope(reason)) if !json_error => assert!(!reason.is_empty()),
        other => panic!("{body:?}: {other:?}"),
    }
}

#[test]
fn malformed_bodies() {
    check_err("", true);
    check_err("not json", true);
    check_err("{\"object\":", true);
    check_err("\u{feff}{}", true);
    check_err("{}", false);
    check_err("[]", false);
    check_err("42", false);
    check_err("\"instagram\"", false);
    check_err("null", false);
    check_err(r#"{"object":"instagram"}"#, false);
    check_err(r#"{"entry":[]}"#, false);
    check_err(r#"{"object":7,"entry":[]}"#, false);
    check_err(r#"{"object":"instagram","entry":{}}"#, false);
    check_err(r#"[{"object":"instagram","entry":[]}, 3]"#, false);
    check_err(r#"[[{"object":"instagram","entry":[]}]]"#, false);
    assert!(
        parse(br#"{"object":"instagram","entry":[]}"#)
            .unwrap()
            .items
            .is_empty()
    );
    assert!(parse(&[0xff, 0xfe, 0x00]).is_err());
}

// ---------------------------------------------------------------- never panics

/// Every fixture's JSON, for mutation.
static FIXTURES: LazyLock<Vec<Value>> = LazyLock::new(|| {
    let manifest: Vec<Value> = serde_json::from_str(&Fixture::load("manifest.json").text).unwrap();
    manifest
        .iter()
        .map(|m| Fixture::load(m["file"].as_str().unwrap()).json)
        .collect()
});

/// Keys Meta uses, so random objects hit the parsers' branches and not only their misses.
const KEYS: &[&str] = &[
    "object",
    "entry",
    "id",
    "time",
    "messaging",
    "standby",
    "changes",
    "field",
    "value",
    "sender",
    "recipient",
    "timestamp",
    "message",
    "mid",
    "text",
    "attachments",
    "type",
    "payload",
    "url",
    "is_echo",
    "reaction",
    "action",
    "read",
    "watermark",
    "message_edit",
    "num_edit",
    "postback",
    "referral",
    "from",
    "username",
    "media",
    "parent_id",
    "messages",
    "statuses",
    "metadata",
    "phone_number_id",
    "contacts",
    "wa_id",
    "status",
    "context",
    "errors",
    "emoji",
    "conversation",
    "expiration_timestamp",
    "latitude",
    "longitude",
];

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop::sample::select(KEYS).prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        "[0-9]{1,22}".prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

/// Replaces the `n`th node (pre-order, modulo the node count) of `v` with `with`.
fn replace_nth(v: &mut Value, n: usize, with: Value) {
    fn count(v: &Value) -> usize {
        1 + match v {
            Value::Array(a) => a.iter().map(count).sum(),
            Value::Object(o) => o.values().map(count).sum(),
            _ => 0,
        }
    }
    fn walk(v: &mut Value, n: &mut usize, with: &mut Option<Value>) {
        if *n == 0 {
            if let Some(w) = with.take() {
                *v = w;
            }
            return;
        }
        *n -= 1;
        match v {
            Value::Array(a) => a.iter_mut().for_each(|c| walk(c, n, with)),
            Value::Object(o) => o.values_mut().for_each(|c| walk(c, n, with)),
            _ => {}
        }
    }
    let mut n = n % count(v);
    walk(v, &mut n, &mut Some(with));
}

proptest! {
    #[test]
    fn never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse(&bytes);
    }

    #[test]
    fn never_panics_on_json_ish_text(text in r#"[\[\]{}":,0-9a-z_ .\\-]{0,256}"#) {
        let _ = parse(text.as_bytes());
    }

    #[test]
    fn never_panics_on_random_envelopes(
        object in prop::sample::select(&["instagram", "page", "whatsapp_business_account", "user"][..]),
        entries in prop::collection::vec(arb_json(), 0..4),
    ) {
        let body = json!({"object": object, "entry": entries});
        prop_assert!(parse(body.to_string().as_bytes()).is_ok());
    }

    #[test]
    fn never_panics_on_mutated_fixtures(
        index in any::<prop::sample::Index>(),
        node in any::<usize>(),
        with in arb_json(),
    ) {
        let mut body = index.get(&FIXTURES).clone();
        replace_nth(&mut body, node, with);
        let _ = parse(body.to_string().as_bytes());
    }
}
