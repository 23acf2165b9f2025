#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::PgStore;
use super::testdb::TestDb;
use crate::store::Store;
use crate::store::conformance::{Opened, scope, text};

/// A store on a fresh database, for the conformance suite.
async fn open_for_suite() -> Opened {
    let db = TestDb::create().await.unwrap();
    let store = PgStore::open(db.url()).await.unwrap();
    Opened {
        store: std::sync::Arc::new(store),
        guard: Box::new(db),
    }
}

crate::conformance_suite!(open_for_suite);

#[tokio::test]
async fn migrations_apply_once() {
    let db = TestDb::create().await.unwrap();
    let store = PgStore::open(db.url()).await.unwrap();
    assert_eq!(store.migrate().await.unwrap(), 0, "open applied them all");
    let again = PgStore::open(db.url()).await.unwrap();
    assert_eq!(again.migrate().await.unwrap(), 0);
    store.close().await.unwrap();
    again.close().await.unwrap();
}
