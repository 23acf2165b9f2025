#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::{DedupFilter, Logged, LoggedRef, Prefix, SledStore, Tree, Writes, dec, enc};
use crate::store::Store;
use crate::store::conformance::{Opened, scope, seqs, text};
use crate::store::{OnceRecord, TenantRecord};
use protocol::EventBody;
use protocol::inbound::InboundKind;
use protocol::{Millis, PartnerId, Seq, TenantId};
use serde::Serialize;
use std::path::Path;

fn open(dir: &Path) -> SledStore {
    SledStore::open(dir, Box::new(|_, _| {})).unwrap()
}

/// A store in a fresh directory, for the conformance suite.
async fn open_for_suite() -> Opened {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    Opened {
        store: std::sync::Arc::new(store),
        guard: Box::new(dir),
    }
}

crate::conformance_suite!(open_for_suite);

#[tokio::test]
async fn synced_data_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        store
            .append(&scope("tn_a"), vec![text("tn_a", "m1", "kept", 1000)])
            .await
            .unwrap();
        store.sync().await.unwrap();
        store.close().await.unwrap();
    }
    let store = open(dir.path());
    assert_eq!(store.head(&scope("tn_a")).await.unwrap(), Seq(1));
    let out = store
        .append(&scope("tn_a"), vec![text("tn_a", "m1", "kept", 1000)])
        .await
        .unwrap();
    assert_eq!(seqs(&out), ["dup 1"]);
}

#[tokio::test]
async fn checkpoints_delete_sealed_segments_and_reopen_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    {
        // One-byte segments: every sync seals a segment and queues a checkpoint.
        let store = SledStore::open_with(dir.path(), Box::new(|_, _| {}), 1).unwrap();
        for i in 0..20 {
            store
                .append(&scope("tn_a"), vec![text("tn_a", &format!("m{i}"), "x", i)])
                .await
                .unwrap();
            store.sync().await.unwrap();
        }
        store.close().await.unwrap();
    }
    // The final checkpoint left only the fresh, empty segment.
    let left: Vec<_> = std::fs::read_dir(dir.path().join("wal"))
        .unwrap()
        .map(|e| std::fs::metadata(e.unwrap().path()).unwrap().len())
        .collect();
    assert_eq!(left, [0]);
    let store = open(dir.path());
    assert_eq!(store.head(&scope("tn_a")).await.unwrap(), Seq(20));
    let out = store
        .append(&scope("tn_a"), vec![text("tn_a", "m7", "x", 7)])
        .await
        .unwrap();
    assert_eq!(seqs(&out), ["dup 8"]);
}

#[tokio::test]
async fn tampering_with_a_stored_audit_record_is_named_by_verify() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let s = scope("tn_a");
    for i in 0..4 {
        store
            .append(&s, vec![text("tn_a", &format!("m{i}"), "private words", i)])
            .await
            .unwrap();
    }
    let verdict = store.verify_audit(&s).await.unwrap();
    assert_eq!(
        (verdict.ok, verdict.records, verdict.first_bad),
        (true, 4, None)
    );
    // Rewrite record 2 in place, as someone with disk access would.
    let key = Prefix::of(&TenantId::new("tn_a")).event(Seq(2));
    let mut logged: Logged = dec(&store.data.get(&key).unwrap().unwrap()).unwrap();
    logged.audit.detail = "signature=forged".into();
    let bytes = enc(&LoggedRef {
        event: &logged.event,
        audit: &logged.audit,
    })
    .unwrap();
    store.data.insert(&key, bytes).unwrap();
    let verdict = store.verify_audit(&s).await.unwrap();
    assert_eq!((verdict.ok, verdict.first_bad), (false, Some(2)));
    // Other tenants' chains are their own.
    assert!(store.verify_audit(&scope("tn_b")).await.unwrap().ok);
}

/// Rewrites the stored `Logged` value of `seq` in place, as someone with disk access would.
fn rewrite(store: &SledStore, seq: u64, change: impl FnOnce(&mut Logged)) {
    let key = Prefix::of(&TenantId::new("tn_a")).event(Seq(seq));
    let mut logged: Logged = dec(&store.data.get(&key).unwrap().unwrap()).unwrap();
    change(&mut logged);
    let bytes = enc(&LoggedRef {
        event: &logged.event,
        audit: &logged.audit,
    })
    .unwrap();
    store.data.insert(&key, bytes).unwrap();
}

#[tokio::test]
async fn tampering_with_stored_events_is_named_by_verify() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let s = scope("tn_a");
    for i in 0..5 {
        store
            .append(&s, vec![text("tn_a", &format!("m{i}"), "private words", i)])
            .await
            .unwrap();
    }
    assert!(store.verify_audit(&s).await.unwrap().ok);
    let verdict = |store: &SledStore| {
        let v = futures_util::FutureExt::now_or_never(store.verify_audit(&s))
            .unwrap()
            .unwrap();
        (v.first_bad, v.problem.unwrap_or_default())
    };

    // A changed body: the text of event 2, its record untouched.
    let key2 = Prefix::of(&TenantId::new("tn_a")).event(Seq(2));
    let original = store.data.get(&key2).unwrap().unwrap();
    rewrite(&store, 2, |l| {
        if let EventBody::Inbound(i) = &mut l.event.body
            && let InboundKind::Message(m) = &mut i.kind
        {
            m.text = Some("words never said".into());
        }
    });
    let (bad, problem) = verdict(&store);
    assert_eq!(bad, Some(2), "{problem}");
    assert!(problem.contains("text digest"), "{problem}");
    store.data.insert(&key2, original.clone()).unwrap();
    assert!(store.verify_audit(&s).await.unwrap().ok);

    // A missing event: event 3's key removed.
    let key3 = Prefix::of(&TenantId::new("tn_a")).event(Seq(3));
    let third = store.data.remove(&key3).unwrap().unwrap();
    let (bad, problem) = verdict(&store);
    assert_eq!(bad, Some(3), "{problem}");
    assert!(problem.contains("event 3 is missing"), "{problem}");

    // Reordered: event 3 stored under key 2 and event 2 under key 3.
    store.data.insert(&key2, third).unwrap();
    store.data.insert(&key3, original).unwrap();
    let (bad, problem) = verdict(&store);
    assert_eq!(bad, Some(2), "{problem}");
    assert!(problem.contains("out of order"), "{problem}");
}

#[tokio::test]
async fn once_records_are_taken_once_with_their_sealed_value_and_old_records_still_work() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let record = OnceRecord {
        tenant: TenantId::new("tn_a"),
        purpose: "choice".into(),
        kind: "facebook".into(),
        expires_at: Millis(5000),
        sealed: Some("v1.k.sealed".into()),
    };
    store.put_once("k1", record.clone()).await.unwrap();
    assert_eq!(store.take_once("k1").await.unwrap(), Some(record));
    assert_eq!(store.take_once("k1").await.unwrap(), None);

    // A record written before `sealed` existed (its bincode layout has four fields).
    #[derive(Serialize)]
    struct Old {
        tenant: TenantId,
        purpose: String,
        kind: String,
        expires_at: Millis,
    }
    let old = Old {
        tenant: TenantId::new("tn_a"),
        purpose: "link".into(),
        kind: "instagram".into(),
        expires_at: Millis(7000),
    };
    let mut writes = Writes::default();
    writes.insert(Tree::Registry, "o/k2".to_owned(), enc(&old).unwrap());
    store.write(writes).unwrap();
    let taken = store
        .take_once("k2")
        .await
        .unwrap()
        .expect("the old record");
    assert_eq!(taken.purpose, "link");
    assert_eq!(taken.expires_at, Millis(7000));
    assert_eq!(taken.sealed, None);
    assert_eq!(store.take_once("k2").await.unwrap(), None);
}

#[tokio::test]
async fn deleting_a_tenant_removes_every_key_and_refuses_later_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let (a, b) = (scope("tn_a"), scope("tn_b"));
    for (s, t) in [(&a, "tn_a"), (&b, "tn_b")] {
        store
            .insert_tenant(TenantRecord {
                id: TenantId::new(t),
                partner: PartnerId::new("pa_1"),
                name: t.into(),
                created_at: Millis(0),
            })
            .await
            .unwrap();
        let events = (0..12)
            .map(|i| text(t, &format!("m{i}"), "hello", 1000 + i))
            .collect();
        store.append(s, events).await.unwrap();
    }
    store.put_knowledge(&a, "x = 1").await.unwrap();
    let removed = store.delete_tenant(&a).await.unwrap();
    assert_eq!(removed.events, 12);
    assert!(removed.keys > 12, "views and indexes too: {removed:?}");
    assert_eq!(store.data.scan_prefix(b"t/tn_a/").count(), 0);
    assert!(
        store
            .tenant(&TenantId::new("tn_a"))
            .await
            .unwrap()
            .is_none()
    );
    // A task still holding the scope cannot write the tenant back.
    assert!(
        store
            .append(&a, vec![text("tn_a", "late", "late", 9000)])
            .await
            .is_err()
    );
    assert!(store.data.scan_prefix(b"t/tn_a/").next().is_none());
    // The other tenant is untouched.
    assert_eq!(store.head(&b).await.unwrap(), Seq(12));
    assert!(store.verify_audit(&b).await.unwrap().ok);
    // Removed for good: after a restart too (the write-ahead log replays the removals).
    store.sync().await.unwrap();
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.data.scan_prefix(b"t/tn_a/").count(), 0);
    assert_eq!(store.head(&b).await.unwrap(), Seq(12));
}

#[tokio::test]
async fn the_dedup_filter_is_built_from_sled_and_gives_up_past_its_bound() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        let first: Vec<_> = (1..=3)
            .map(|i| text("tn_a", &format!("m{i}"), "x", 1000 + i))
            .collect();
        store.append(&scope("tn_a"), first).await.unwrap();
        store.sync().await.unwrap();
        // Not closed: the next open replays the log, and the filter is built after that.
    }
    let store = open(dir.path());
    *super::lock(&store.dedup) = DedupFilter {
        max: 4,
        ..DedupFilter::default()
    };
    let again = |ids: &[i64]| {
        ids.iter()
            .map(|&i| text("tn_a", &format!("m{i}"), "x", 1000 + i))
            .collect::<Vec<_>>()
    };
    let out = store.append(&scope("tn_a"), again(&[2, 4])).await.unwrap();
    assert_eq!(seqs(&out), ["dup 2", "stored 4"]);
    assert_eq!(super::lock(&store.dedup).held, 4);
    // A fifth key passes the bound: the tenant is answered from sled from now on.
    let out = store.append(&scope("tn_a"), again(&[5])).await.unwrap();
    assert_eq!(seqs(&out), ["stored 5"]);
    assert_eq!(super::lock(&store.dedup).held, 0);
    let out = store
        .append(&scope("tn_a"), again(&[1, 4, 5, 6]))
        .await
        .unwrap();
    assert_eq!(seqs(&out), ["dup 1", "dup 4", "dup 5", "stored 6"]);
}
