//! Does a stalled desk slow webhooks or other desks? (issue 21, "Load and faults").
//!
//! Two runs on fresh relays (the harness `World`, the `relay` binary beside this one): a
//! baseline with healthy desks only, then the same with stalled desks of the same tenant
//! connected — WebSocket clients that said hello and then never read a byte, so their
//! socket buffers fill and the relay's writes to them block. Each run posts signed
//! WhatsApp messages to tenant A open-loop at a fixed rate and measures the webhook's
//! answer time (POST → 200) and the delivery time to every healthy desk (POST → event
//! frame read), then prints both runs side by side, with the stalled run's p99s as a
//! multiple of the baseline's (the limit it is judged against, measured in the same run).
//!
//! ```sh
//! cargo build --release -p relay -p chatdesk-tests --bin relay --bin stall-bench
//! target/release/stall-bench                  # --help for rate, duration, desks, text size
//! ```

use anyhow::{Context as _, Result, anyhow};
use clap::Parser;
use harness::desk::{RawDesk, stalled_desk};
use harness::{APP_SECRET, WA_A, World, sign, wa_text};
use hdrhistogram::Histogram;
use protocol::inbound::InboundKind;
use protocol::{EventBody, ServerFrame};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PREFIX: &str = "wamid.stall";

#[derive(Parser, Clone)]
#[command(about = "Webhook and desk latency with and without stalled desks")]
struct Args {
    /// Webhooks per second (open loop).
    #[arg(long, default_value_t = 200)]
    rate: u64,
    /// Seconds of webhooks per run.
    #[arg(long, default_value_t = 5)]
    secs: u64,
    /// Healthy desks of tenant A.
    #[arg(long, default_value_t = 4)]
    desks: usize,
    /// Stalled desks of tenant A in the second run.
    #[arg(long, default_value_t = 4)]
    stalled: usize,
    /// Bytes of text per message (bigger fills a stalled desk's buffers sooner).
    #[arg(long, default_value_t = 4000)]
    text_bytes: usize,
}

struct Figures {
    ack: Histogram<u64>,
    delivery: Histogram<u64>,
    delivered: u64,
    expected: u64,
    slow_closed: f64,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let baseline = run(&args, 0).await?;
    let stalled = run(&args, args.stalled).await?;
    println!(
        "{} webhooks/s for {} s, {} healthy desks, text {} bytes; relay {}",
        args.rate,
        args.secs,
        args.desks,
        args.text_bytes,
        harness::relay_bin()?.display()
    );
    // The baseline is the limit the stalled run is judged against: measured in the same
    // run on the same machine, so a loaded machine moves both rows alike.
    println!(
        "| run | POST→200 p50 / p99 / max (ms) | POST→healthy desk p50 / p99 / max (ms) | p99 ÷ baseline p99 (POST→200, desk) | delivered | stalled desks dropped as slow |"
    );
    println!("|---|---|---|---|---|---|");
    for (name, f) in [
        ("baseline".to_owned(), &baseline),
        (format!("{} stalled desks", args.stalled), &stalled),
    ] {
        println!(
            "| {name} | {:.2} / {:.2} / {:.2} | {:.2} / {:.2} / {:.2} | {:.2}, {:.2} | {}/{} | {} |",
            ms(&f.ack, 0.5),
            ms(&f.ack, 0.99),
            f.ack.max() as f64 / 1000.0,
            ms(&f.delivery, 0.5),
            ms(&f.delivery, 0.99),
            f.delivery.max() as f64 / 1000.0,
            ms(&f.ack, 0.99) / ms(&baseline.ack, 0.99),
            ms(&f.delivery, 0.99) / ms(&baseline.delivery, 0.99),
            f.delivered,
            f.expected,
            f.slow_closed
        );
    }
    Ok(())
}

async fn run(args: &Args, stalled: usize) -> Result<Figures> {
    let w = World::new().await?;
    let url = w.api.url.clone();
    let mut readers = Vec::new();
    let sent: Arc<Mutex<Vec<Option<Instant>>>> = Arc::default();
    let total = usize::try_from(args.rate * args.secs)?;
    sent.lock()
        .map_err(|_| anyhow!("poisoned"))?
        .resize(total, None);
    for _ in 0..args.desks {
        let mut desk = RawDesk::caught_up(&url, &w.a.agent_token).await?;
        let sent = sent.clone();
        readers.push(tokio::spawn(async move {
            let mut h = new_histogram()?;
            let mut got = 0usize;
            while got < total {
                let ServerFrame::Event { event } = desk.next().await? else {
                    continue;
                };
                let at = Instant::now();
                let Some(i) = index_of(&event.body) else {
                    continue;
                };
                got += 1;
                let start = sent.lock().map_err(|_| anyhow!("poisoned"))?[i];
                if let Some(start) = start {
                    h.record(micros(at - start))?;
                }
            }
            anyhow::Ok((h, got))
        }));
    }
    // Held (never read) until the run ends.
    let mut stalls = Vec::new();
    for _ in 0..stalled {
        stalls.push(stalled_desk(&url, &w.a.agent_token).await?);
    }
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .http1_only()
        .build()?;
    let text = "x".repeat(args.text_bytes);
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / args.rate));
    let mut posts = Vec::with_capacity(total);
    for i in 0..total {
        tick.tick().await;
        let body = wa_text(WA_A, &format!("{PREFIX}{i}"), "16505551234", &text);
        let signature = sign(&body, APP_SECRET);
        let request = client
            .post(format!("{url}/webhooks/whatsapp"))
            .header("content-type", "application/json")
            .header("x-hub-signature-256", signature)
            .body(body);
        let sent = sent.clone();
        posts.push(tokio::spawn(async move {
            let start = Instant::now();
            sent.lock().map_err(|_| anyhow!("poisoned"))?[i] = Some(start);
            let status = request.send().await?.status();
            anyhow::ensure!(status.is_success(), "webhook {i} answered {status}");
            anyhow::Ok(micros(start.elapsed()))
        }));
    }
    let mut ack = new_histogram()?;
    for p in posts {
        ack.record(p.await??)?;
    }
    let mut delivery = new_histogram()?;
    let mut delivered = 0u64;
    for r in readers {
        let (h, got) = tokio::time::timeout(Duration::from_secs(60), r)
            .await
            .context("a healthy desk did not get every event within 60 s")???;
        delivery.add(&h).map_err(|e| anyhow!("histogram: {e:?}"))?;
        delivered += u64::try_from(got)?;
    }
    let slow_closed = w.metric("relay_desk_closed_total{reason=\"slow\"}").await?;
    drop(stalls);
    Ok(Figures {
        ack,
        delivery,
        delivered,
        expected: u64::try_from(total * args.desks)?,
        slow_closed,
    })
}

fn index_of(body: &EventBody) -> Option<usize> {
    let EventBody::Inbound(inbound) = body else {
        return None;
    };
    let InboundKind::Message(message) = &inbound.kind else {
        return None;
    };
    message.mid.strip_prefix(PREFIX)?.parse().ok()
}

fn new_histogram() -> Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, 600_000_000, 3).map_err(|e| anyhow!("histogram: {e:?}"))
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

#[allow(clippy::cast_precision_loss)]
fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}
