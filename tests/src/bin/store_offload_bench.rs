//! Should the relay's storage calls leave the async workers? This measures what a call
//! holds a worker for, and what moving it to the blocking pool would cost instead.
//!
//! On one sled store (a temporary directory, the relay's own `SledStore` with its WAL and
//! group commit) it times, per call: `append` of one webhook's event and the reads a desk
//! session and the outbox make (`thread`, `events_after` 50), called directly on a runtime
//! worker (the relay today) and through `spawn_blocking` + `Handle::block_on` (the
//! alternative), plus an empty `spawn_blocking` round trip. Every 32 appends a `sync` makes
//! them durable, as the group commit would; syncs are not timed (they already wait off the
//! workers, on the committer thread). The process is pinned like the other benchmarks.
//!
//! `cargo build --release -p chatdesk-tests --bin store-offload-bench &&
//! target/release/store-offload-bench [--calls N]`

use anyhow::{Context, Result};
use clap::Parser;
use harness::bench::figures::{max_ms, micros, ms, new_histogram};
use harness::bench::machine::Cores;
use hdrhistogram::Histogram;
use protocol::inbound::{InboundKind, MessageBody};
use protocol::{
    Channel, ChannelId, Customer, CustomerId, Direction, EventBody, InboundEvent, Millis, Seq,
    TenantId,
};
use relay::principal::{Access, Principal, TenantScope};
use relay::store::sled::SledStore;
use relay::store::{NewEvent, Store};
use std::sync::Arc;
use std::time::Instant;

#[derive(Parser)]
#[command(about = "Time storage calls on the async workers vs. on the blocking pool")]
struct Args {
    /// Calls per measured kind.
    #[arg(long, default_value_t = 20_000)]
    calls: usize,
}

const CUSTOMERS: usize = 100;

fn main() -> Result<()> {
    let args = Args::parse();
    let cores = Cores::choose();
    cores.runtime()?.block_on(run(args))
}

fn event(tenant: &TenantId, n: usize) -> NewEvent {
    let channel = ChannelId::new("ch_bench");
    let customer = format!("igsid-{}", n % CUSTOMERS);
    let at = 1_750_000_000_000 + i64::try_from(n).unwrap_or(i64::MAX);
    NewEvent {
        dedup_key: format!("m:bench-{n}"),
        received_at: Millis(at + 5),
        body: EventBody::Inbound(InboundEvent {
            channel_id: channel.clone(),
            channel: Channel::InstagramDm,
            thread: relay::ids::thread(tenant, &channel, &format!("dm:{customer}")),
            customer: Customer::new(CustomerId::Igsid(customer)),
            direction: Direction::Inbound,
            occurred_at: Millis(at),
            standby: false,
            kind: InboundKind::Message(MessageBody {
                mid: format!("bench-{n}"),
                text: Some("Halo kak, ukuran M masih ada?".into()),
                ..MessageBody::default()
            }),
        }),
    }
}

/// What one kind of call cost, direct and offloaded.
struct Pair {
    what: &'static str,
    direct: Histogram<u64>,
    offloaded: Histogram<u64>,
}

fn line(label: &str, h: &Histogram<u64>) {
    println!(
        "  {label:<10} p50 {:>7.3} ms  p99 {:>7.3} ms  p99.9 {:>7.3} ms  max {:>7.3} ms",
        ms(h, 0.50),
        ms(h, 0.99),
        ms(h, 0.999),
        max_ms(h)
    );
}

async fn run(args: Args) -> Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("store-offload-bench-")
        .tempdir()
        .context("cannot create a temporary directory")?;
    let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path(), Box::new(|_, _| {}))?);
    let tenant = TenantId::new("tn_bench");
    let scope: TenantScope = Principal::Operator
        .scope(&tenant, Access::Manage)
        .map_err(|_| anyhow::anyhow!("operator scope refused"))?;
    let handle = tokio::runtime::Handle::current();
    let mut appends = Pair {
        what: "append (1 event)",
        direct: new_histogram()?,
        offloaded: new_histogram()?,
    };
    let mut n = 0;
    for offload in [false, true] {
        for i in 0..args.calls {
            let events = vec![event(&tenant, n)];
            n += 1;
            let started = Instant::now();
            if offload {
                let (store, scope, handle) = (store.clone(), scope.clone(), handle.clone());
                tokio::task::spawn_blocking(move || handle.block_on(store.append(&scope, events)))
                    .await??;
            } else {
                store.append(&scope, events).await?;
            }
            let took = micros(started.elapsed());
            let h = if offload {
                &mut appends.offloaded
            } else {
                &mut appends.direct
            };
            h.saturating_record(took);
            if i % 32 == 31 {
                store.sync().await?;
            }
        }
    }
    store.sync().await?;

    let threads = store.threads(&scope).await?;
    let mut reads = vec![
        Pair {
            what: "thread",
            direct: new_histogram()?,
            offloaded: new_histogram()?,
        },
        Pair {
            what: "events_after 50",
            direct: new_histogram()?,
            offloaded: new_histogram()?,
        },
    ];
    let head = store.head(&scope).await?.0;
    for (k, pair) in reads.iter_mut().enumerate() {
        for offload in [false, true] {
            for i in 0..args.calls {
                let thread = threads[i % threads.len()].id.clone();
                let after = Seq(u64::try_from(i).unwrap_or(0) % head.saturating_sub(50).max(1));
                let (store, scope) = (store.clone(), scope.clone());
                let call = async move {
                    if k == 0 {
                        store.thread(&scope, &thread).await.map(|_| ())
                    } else {
                        store.events_after(&scope, after, 50).await.map(|_| ())
                    }
                };
                let started = Instant::now();
                if offload {
                    let handle = handle.clone();
                    tokio::task::spawn_blocking(move || handle.block_on(call)).await??;
                } else {
                    call.await?;
                }
                let h = if offload {
                    &mut pair.offloaded
                } else {
                    &mut pair.direct
                };
                h.saturating_record(micros(started.elapsed()));
            }
        }
    }

    let mut hop = new_histogram()?;
    for _ in 0..args.calls {
        let started = Instant::now();
        tokio::task::spawn_blocking(|| ()).await?;
        hop.saturating_record(micros(started.elapsed()));
    }

    println!(
        "store-offload-bench: {} calls per kind, one tenant, {CUSTOMERS} threads, {} events at the end",
        args.calls,
        store.head(&scope).await?.0
    );
    for pair in std::iter::once(&appends).chain(&reads) {
        println!("{}:", pair.what);
        line("direct", &pair.direct);
        line("offloaded", &pair.offloaded);
    }
    println!("empty spawn_blocking round trip:");
    line("hop", &hop);
    store.close().await?;
    Ok(())
}
