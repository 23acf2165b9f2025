//! `desk-screen-bench`: how fast does the desk draw from a big replica?
//!
//! ```text
//! cargo build --release -p chatdesk-tests --bins && target/release/desk-screen-bench
//! ```
//!
//! 1. **Build** a replica of 50,000 threads and 500,000 messages (Instagram DMs, comments
//!    and WhatsApp, a third with drafter drafts, some replies sent and delivered) with the
//!    desk's own `Replica::apply`, as the sync engine would have written it.
//! 2. **Measure** in a fresh child process (so its memory is the desk's, not the
//!    builder's): time from `main` to the first frame drawn (open the replica, load the
//!    inbox, lay out and encode a 160×48 frame for a terminal through crossterm into a
//!    sink), the resident memory then, and key-press-to-frame times while a writer thread
//!    applies new customer messages to the same replica at 200/s, as the engine would. A
//!    key arrives every 20 ms (j/k, now and then Enter and Esc to open and leave a thread);
//!    its time runs from its arrival to the end of the frame that shows it, including the
//!    sync updates handled in the same batch, like the real loop does.
//!
//! Targets (issue 6): first frame < 150 ms, RSS < 150 MB, key-to-frame p99 < 16 ms.

use anyhow::{Context, Result};
use clap::Parser;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use desk_tui::app::keymap::Keymap;
use desk_tui::app::{App, Msg, Profile};
use desk_tui::fixtures::{self, Events};
use desk_tui::ui::{self, theme::Theme};
use desk_tui::{ConnectionState, Replica, snapshot};
use harness::bench::procfs::status_kib;
use hdrhistogram::Histogram;
use protocol::{Channel, Millis, Seq};
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
struct Args {
    #[arg(long, default_value_t = 50_000)]
    threads: usize,
    #[arg(long, default_value_t = 500_000)]
    messages: usize,
    /// New customer messages per second while keys are measured.
    #[arg(long, default_value_t = 200)]
    rate: u64,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Keep the built replica here (reused when it exists).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Internal: run the measuring phase on an existing replica.
    #[arg(long, hide = true)]
    measure: Option<PathBuf>,
}

fn main() -> Result<()> {
    let start = Instant::now();
    let args = Args::parse();
    if let Some(dir) = &args.measure {
        return measure(dir, &args, start);
    }
    let scratch = tempfile::tempdir()?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| scratch.path().join("replica"));
    if dir.join("built").exists() {
        println!("reusing the replica in {}", dir.display());
    } else {
        build(&dir, &args)?;
    }
    let spawned = Instant::now();
    let status = std::process::Command::new(std::env::current_exe()?)
        .arg("--measure")
        .arg(&dir)
        .args([
            "--rate",
            &args.rate.to_string(),
            "--seconds",
            &args.seconds.to_string(),
        ])
        .status()?;
    println!(
        "measuring child ran {:.1} s, {status}",
        spawned.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A deterministic mix of threads and messages, applied in batches like the engine does.
fn build(dir: &Path, args: &Args) -> Result<()> {
    let began = Instant::now();
    let replica = fixtures::replica(dir, &[])?;
    let per_thread = (args.messages / args.threads).max(1);
    let mut e = Events::new("t-sari");
    let now = fixtures::NOW;
    let mut messages = 0usize;
    for t in 0..args.threads {
        let (thread, channel) = match t % 5 {
            0 => (format!("wa-{t}"), Channel::WhatsApp),
            1 => (format!("cmt-{t}"), Channel::InstagramComment),
            _ => (format!("ig-{t}"), Channel::InstagramDm),
        };
        let who = format!("customer_{t}");
        // Last messages spread over 30 hours so windows differ.
        let last = now.plus(-(i64::try_from(t % 1800).unwrap_or(0) * Millis::MINUTE));
        for m in 0..per_thread {
            let at = last.plus(-(i64::try_from(per_thread - m).unwrap_or(0)) * Millis::MINUTE);
            if channel == Channel::InstagramComment && m == 0 {
                e.comment(
                    &thread,
                    &who,
                    &format!("c-{t}"),
                    "is this available in M?",
                    "post-1",
                    at,
                );
            } else if m % 4 == 3 {
                let send = e.reply(&thread, "ayu", "Ready kak, silakan order", None, at);
                e.sent(&thread, send, &format!("mid-{t}-{m}"), at);
            } else {
                e.message(
                    &thread,
                    channel,
                    &who,
                    "Kak, yang ini masih ada ukuran M? harganya berapa?",
                    at,
                );
            }
            messages += 1;
        }
        if t % 3 == 0 {
            e.draft(
                &thread,
                1,
                "Masih ada kak, Rp 385.000",
                &["Batik Parang: Rp 385.000"],
                &[],
                last,
            );
        }
        if e.events.len() >= 5_000 {
            replica.apply(&e.take())?;
        }
    }
    replica.apply(&e.take())?;
    replica.flush()?;
    snapshot::write(&replica, &snapshot::path_for(dir))?;
    std::fs::write(dir.join("built"), b"")?;
    println!(
        "built a replica of {} threads, {messages} messages ({} events) in {:.1} s",
        args.threads,
        replica.cursor()?.0,
        began.elapsed().as_secs_f64()
    );
    Ok(())
}

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn measure(dir: &Path, args: &Args, start: Instant) -> Result<()> {
    // As `desk` starts: the inbox from its snapshot, the first frame, then the replica.
    let snapshot = snapshot::read(&snapshot::path_for(dir)).context("no inbox snapshot")?;
    let identity = snapshot
        .identity
        .clone()
        .context("snapshot without identity")?;
    let profile = Profile {
        name: "bench".into(),
        replica: None,
        me: identity.agent.clone(),
        role: identity.role.into(),
        tenant: Some(identity.tenant.as_str().to_owned()),
        partner: None,
        brand: "Nusantara Desk".into(),
        tenant_name: "Sari Batik".into(),
        connection: ConnectionState::Live,
        retry_at: None,
        cursor: Seq(0),
        credits: snapshot.credits,
        unencrypted: false,
    };
    let mut app = App::new(vec![profile], Keymap::default(), fixtures::NOW);
    app.preload(0, snapshot.rows, snapshot.mentions, snapshot.cursor);
    let theme = Theme { color: true };
    let area = Rect::new(0, 0, 160, 48);
    let mut terminal = Terminal::with_options(
        CrosstermBackend::new(std::io::sink()),
        TerminalOptions {
            viewport: Viewport::Fixed(area),
        },
    )?;
    terminal.draw(|f| ui::view(&app, &theme, f))?;
    let first_frame = start.elapsed();
    let rss_first = status_kib(std::process::id(), "VmRSS").unwrap_or(0);
    println!(
        "first frame: {:.1} ms after main ({} threads in the inbox), RSS {:.1} MiB",
        first_frame.as_secs_f64() * 1e3,
        app.inbox.len(),
        rss_first as f64 / 1024.0
    );
    let t = Instant::now();
    let replica = Replica::open_dir(dir).context("open the replica")?;
    app.update(Msg::ReplicaReady {
        profile: 0,
        replica: replica.clone(),
    });
    terminal.draw(|f| ui::view(&app, &theme, f))?;
    println!(
        "the replica opened behind it in {:.1} ms; RSS then {:.1} MiB",
        t.elapsed().as_secs_f64() * 1e3,
        status_kib(std::process::id(), "VmRSS").unwrap_or(0) as f64 / 1024.0
    );

    // The writer: new customer messages into existing threads at `rate`/s.
    let (tx, rx) = mpsc::channel::<Seq>();
    let writer_replica = replica.clone();
    let rate = args.rate.max(1);
    let seconds = args.seconds;
    let threads = app.inbox.len().max(1);
    let writer = std::thread::spawn(move || -> Result<u64> {
        let mut e = Events::new("t-sari");
        let mut next_seq = writer_replica.cursor()?.0 + 1;
        let began = Instant::now();
        let gap = Duration::from_nanos(1_000_000_000 / rate);
        let mut written = 0u64;
        while began.elapsed() < Duration::from_secs(seconds) {
            let t = (written as usize * 7919) % threads;
            let thread = if t.is_multiple_of(5) {
                format!("wa-{t}")
            } else if t % 5 == 1 {
                format!("cmt-{t}")
            } else {
                format!("ig-{t}")
            };
            let channel = if t.is_multiple_of(5) {
                Channel::WhatsApp
            } else {
                Channel::InstagramDm
            };
            let mut batch = {
                e.message(
                    &thread,
                    channel,
                    &format!("customer_{t}"),
                    "halo, masih ada?",
                    fixtures::NOW,
                );
                e.take()
            };
            for ev in &mut batch {
                ev.seq = Seq(next_seq);
                next_seq += 1;
            }
            writer_replica.apply(&batch)?;
            written += 1;
            let _ = tx.send(Seq(next_seq - 1));
            let due = gap * u32::try_from(written).unwrap_or(u32::MAX);
            if let Some(wait) = due.checked_sub(began.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        Ok(written)
    });

    let mut histogram = Histogram::<u64>::new(3)?;
    let began = Instant::now();
    let mut presses = 0u64;
    let mut updates = 0u64;
    let mut next_tick = Instant::now() + Duration::from_secs(1);
    while began.elapsed() < Duration::from_secs(args.seconds) {
        let due = began + Duration::from_millis(20 * (presses + 1));
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let arrived = Instant::now();
        // Like the real loop: everything that queued up, then the key, then one frame.
        let mut cursor = None;
        while let Ok(seq) = rx.try_recv() {
            cursor = Some(seq);
        }
        if let Some(cursor) = cursor {
            app.update(Msg::Applied { profile: 0, cursor });
            updates += 1;
        }
        if arrived >= next_tick {
            app.update(Msg::Tick(fixtures::NOW));
            next_tick += Duration::from_secs(1);
        }
        let k = match presses % 50 {
            10 => key(KeyCode::Enter),
            20 => key(KeyCode::Esc),
            n if n % 2 == 0 => key(KeyCode::Char('j')),
            _ => key(KeyCode::Char('k')),
        };
        app.update(k);
        terminal.draw(|f| ui::view(&app, &theme, f))?;
        let took = arrived.elapsed();
        histogram.record(u64::try_from(took.as_micros()).unwrap_or(u64::MAX))?;
        presses += 1;
    }
    let written = writer
        .join()
        .map_err(|_| anyhow::anyhow!("writer panicked"))??;
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1e3;
    println!(
        "key-to-frame over {presses} keys while {written} messages streamed in ({:.0}/s, {updates} sync updates): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        written as f64 / args.seconds as f64,
        ms(0.5),
        ms(0.99),
        histogram.max() as f64 / 1e3
    );
    let rss_end = status_kib(std::process::id(), "VmRSS").unwrap_or(0);
    let hwm = status_kib(std::process::id(), "VmHWM").unwrap_or(0);
    println!(
        "RSS at the end {:.1} MiB, peak {:.1} MiB",
        rss_end as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    Ok(())
}
