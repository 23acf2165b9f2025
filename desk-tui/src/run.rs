//! The runtime: the real terminal, the sync engines, and the loop that turns their events
//! into [`Msg`]s, calls [`App::update`], carries out the [`Effect`]s and draws.
//!
//! Drawing never waits for the network: commands go to the local outbox in a task, HTTP
//! calls run in tasks, and everything comes back through one channel. Messages that queue
//! up while a frame is drawn are all applied before the next frame.

use crate::app::keymap::Keymap;
use crate::app::{App, Effect, Msg, Profile, ProfileRole};
use crate::config::{SyncConfig, Token};
use crate::media::{Media, Source};
use crate::remote::Remote;
use crate::ui::{self, theme::Theme};
use crate::{ConnectionState, Replica, SyncHandle, Update};
use anyhow::{Context, Result};
use crossterm::event::{Event as TermEvent, EventStream};
use futures_util::StreamExt;
use protocol::{AgentId, Millis};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// One profile to open: where and as whom.
#[derive(Clone, Debug)]
pub struct ProfileSpec {
    pub name: String,
    pub relay: String,
    pub token: Token,
    /// Extra CA certificates (PEM) for an `https://` relay with a private CA.
    pub ca_file: Option<PathBuf>,
}

/// How the desk runs.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub profiles: Vec<ProfileSpec>,
    pub keymap: Keymap,
    pub bell: bool,
    pub data_dir: Option<PathBuf>,
    /// Show the first-keys hint (the demo).
    pub hint: bool,
    /// Ask the terminal for a graphics protocol and draw images inline where it has one.
    pub images: bool,
}

#[must_use]
pub fn now() -> Millis {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    Millis(ms)
}

/// A profile with its engine (none for partner viewers, and none yet while its replica
/// opens behind a snapshot) and its HTTP client.
struct Live {
    sync: Option<SyncHandle>,
    remote: Remote,
    /// Agents' and owners' engine configuration.
    config: Option<SyncConfig>,
    /// The profile's commands, handed to its outbox one after another.
    submits: Submits,
}

/// One profile's commands on their way to its outbox, in the order the app made them: one
/// task pushes them one at a time (a task per command could push an approve before the
/// edit it follows). Until the engine starts they wait in the channel.
struct Submits {
    tx: mpsc::UnboundedSender<(u64, protocol::Command)>,
    rx: Option<mpsc::UnboundedReceiver<(u64, protocol::Command)>>,
}

impl Submits {
    fn new() -> Submits {
        let (tx, rx) = mpsc::unbounded_channel();
        Submits { tx, rx: Some(rx) }
    }

    /// Starts pushing (once; later calls do nothing).
    fn start(&mut self, submitter: crate::sync::Submitter, msgs: mpsc::UnboundedSender<Msg>) {
        let Some(mut rx) = self.rx.take() else {
            return;
        };
        tokio::spawn(async move {
            while let Some((local, command)) = rx.recv().await {
                let result = submitter.submit(command).await.map_err(|e| e.to_string());
                let _ = msgs.send(Msg::Submitted { local, result });
            }
        });
    }
}

/// A profile drawn from its inbox snapshot whose replica is still to be opened.
struct Deferred {
    index: usize,
    config: SyncConfig,
    rows: Vec<crate::model::summary::ThreadSummary>,
    mentions: Vec<crate::model::mention::MentionRow>,
    cursor: protocol::Seq,
}

/// Opens every profile: the replica and its engine for agents and owners; partner viewers
/// (known from `GET /v1/me`) get the report only.
async fn open_profiles(
    options: &RunOptions,
    tx: &mpsc::UnboundedSender<Msg>,
) -> Result<(Vec<Profile>, Vec<Live>, Vec<Deferred>)> {
    let mut profiles = Vec::new();
    let mut live = Vec::new();
    let mut deferred = Vec::new();
    for (index, spec) in options.profiles.iter().enumerate() {
        let remote = Remote::new(&spec.relay, spec.token.clone(), spec.ca_file.as_deref())
            .with_context(|| format!("profile {}", spec.name))?;
        let mut config = SyncConfig::new(spec.relay.clone(), spec.token.clone());
        config.data_dir.clone_from(&options.data_dir);
        config.ca_file.clone_from(&spec.ca_file);
        config
            .validate()
            .with_context(|| format!("profile {}", spec.name))?;
        let replica_dir = config.replica_dir()?;
        // A snapshot of an identified replica: draw from it now, open the replica later.
        if replica_dir.exists()
            && let Some(snapshot) = crate::snapshot::read(&crate::snapshot::path_for(&replica_dir))
            && let Some(identity) = snapshot.identity.clone()
        {
            profiles.push(Profile {
                name: spec.name.clone(),
                replica: None,
                me: identity.agent.clone(),
                role: identity.role.into(),
                tenant: Some(identity.tenant.as_str().to_owned()),
                partner: None,
                brand: snapshot
                    .header
                    .as_ref()
                    .map_or_else(|| "chatdesk".into(), |h| h.brand.clone()),
                tenant_name: snapshot
                    .header
                    .as_ref()
                    .map_or_else(|| spec.name.clone(), |h| h.tenant_name.clone()),
                connection: ConnectionState::Connecting,
                retry_at: None,
                cursor: protocol::Seq(0),
                credits: snapshot.credits,
                unencrypted: crate::config::unencrypted_over_network(&spec.relay),
            });
            live.push(Live {
                sync: None,
                remote,
                config: Some(config.clone()),
                submits: Submits::new(),
            });
            deferred.push(Deferred {
                index,
                config,
                rows: snapshot.rows,
                mentions: snapshot.mentions,
                cursor: snapshot.cursor,
            });
            continue;
        }
        // A replica that has seen a welcome knows this token is an agent's: start at once,
        // offline or not. Otherwise ask the relay who the token is (briefly).
        let existing = if replica_dir.exists() {
            Some(
                Replica::open(&config)
                    .with_context(|| format!("profile {}: opening the local replica", spec.name))?,
            )
        } else {
            None
        };
        let known = existing
            .as_ref()
            .and_then(|r| r.identity().ok().flatten())
            .is_some();
        let me = if known {
            None
        } else {
            tokio::time::timeout(Duration::from_secs(3), remote.me())
                .await
                .ok()
                .and_then(Result::ok)
        };
        if let Some(me) = me.as_ref().filter(|m| m.role == "partner") {
            profiles.push(Profile {
                name: spec.name.clone(),
                replica: None,
                me: AgentId::new(me.agent.clone().unwrap_or_default()),
                role: ProfileRole::Partner,
                tenant: None,
                partner: me.partner.clone(),
                brand: me.brand.clone().unwrap_or_default(),
                tenant_name: String::new(),
                connection: ConnectionState::Live,
                retry_at: None,
                cursor: protocol::Seq(0),
                credits: None,
                unencrypted: crate::config::unencrypted_over_network(&spec.relay),
            });
            live.push(Live {
                sync: None,
                remote,
                config: None,
                submits: Submits::new(),
            });
            continue;
        }
        let replica = match existing {
            Some(replica) => replica,
            None => Replica::open(&config)
                .with_context(|| format!("profile {}: opening the local replica", spec.name))?,
        };
        discard_snapshot(&config);
        let identity = replica.identity()?;
        let header = replica.header()?;
        let sync = SyncHandle::spawn(config.clone(), replica.clone())?;
        forward_sync(index, &sync, tx.clone());
        let role = identity
            .as_ref()
            .map(|i| ProfileRole::from(i.role))
            .or_else(|| {
                me.as_ref().map(|m| {
                    if m.role == "owner" {
                        ProfileRole::Owner
                    } else {
                        ProfileRole::Agent
                    }
                })
            })
            .unwrap_or(ProfileRole::Agent);
        profiles.push(Profile {
            name: spec.name.clone(),
            replica: Some(replica),
            me: identity
                .as_ref()
                .map(|i| i.agent.clone())
                .or_else(|| me.as_ref().and_then(|m| m.agent.clone()).map(AgentId::new))
                .unwrap_or_else(|| AgentId::new("")),
            role,
            tenant: identity
                .as_ref()
                .map(|i| i.tenant.as_str().to_owned())
                .or_else(|| me.as_ref().and_then(|m| m.tenant.clone())),
            partner: me.as_ref().and_then(|m| m.partner.clone()),
            brand: header
                .as_ref()
                .map(|h| h.brand.clone())
                .or_else(|| me.as_ref().and_then(|m| m.brand.clone()))
                .unwrap_or_else(|| "chatdesk".into()),
            tenant_name: header
                .as_ref()
                .map(|h| h.tenant_name.clone())
                .or_else(|| me.as_ref().and_then(|m| m.tenant_name.clone()))
                .unwrap_or_else(|| spec.name.clone()),
            connection: sync.state(),
            retry_at: None,
            cursor: protocol::Seq(0),
            credits: None,
            unencrypted: crate::config::unencrypted_over_network(&spec.relay),
        });
        let mut submits = Submits::new();
        submits.start(sync.submitter(), tx.clone());
        live.push(Live {
            sync: Some(sync),
            remote,
            config: Some(config),
            submits,
        });
    }
    Ok((profiles, live, deferred))
}

/// Deletes the inbox snapshot of a replica now open: from here on the replica is what the
/// desk shows, and a customer removed (or a crash) before the next clean exit must not
/// leave the old rows on disk. A clean exit writes it again.
fn discard_snapshot(config: &SyncConfig) {
    let Ok(dir) = config.replica_dir() else {
        return;
    };
    if let Err(e) = crate::snapshot::discard(&crate::snapshot::path_for(&dir)) {
        tracing::warn!(error = %e, "inbox snapshot not deleted");
    }
}

/// Turns a profile's engine updates and connection states into messages.
fn forward_sync(profile: usize, sync: &SyncHandle, tx: mpsc::UnboundedSender<Msg>) {
    let mut updates = sync.subscribe();
    let mut states = sync.watch_state();
    let tx2 = tx.clone();
    tokio::spawn(async move {
        loop {
            match updates.recv().await {
                Ok(Update::Applied { cursor }) => {
                    let _ = tx.send(Msg::Applied { profile, cursor });
                }
                Ok(Update::Answered { key, answer }) => {
                    let _ = tx.send(Msg::Answered {
                        profile,
                        key,
                        answer,
                    });
                }
                Ok(Update::Erased) => {
                    let _ = tx.send(Msg::Erased { profile });
                }
                Ok(Update::Queued { .. } | Update::State(_)) => {}
                // Missed some: the replica has them; re-read from the cursor.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    let _ = tx.send(Msg::Applied {
                        profile,
                        cursor: protocol::Seq(u64::MAX),
                    });
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    });
    tokio::spawn(async move {
        loop {
            let state = states.borrow_and_update().clone();
            if tx2.send(Msg::Connection { profile, state }).is_err() {
                break;
            }
            if states.changed().await.is_err() {
                break;
            }
        }
    });
}

/// Reads the terminal into messages until aborted (it is stopped while `$EDITOR` runs, so
/// the editor gets the keys).
fn spawn_input(tx: mpsc::UnboundedSender<Msg>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut events = EventStream::new();
        while let Some(event) = events.next().await {
            let msg = match event {
                Ok(TermEvent::Key(key)) => Msg::Key(key),
                Ok(TermEvent::Paste(text)) => Msg::Paste(text),
                Ok(TermEvent::Resize(..)) => Msg::Resize,
                Ok(_) => continue,
                Err(_) => break,
            };
            if tx.send(msg).is_err() {
                break;
            }
        }
    })
}

/// Runs the desk until the user quits.
///
/// # Errors
/// A profile cannot be opened, or the terminal cannot be set up.
pub async fn run(options: RunOptions) -> Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let (profiles, mut live, deferred) = open_profiles(&options, &tx).await?;
    let mut app = App::new(profiles, options.keymap.clone(), now());
    let mut to_open = Vec::new();
    for d in deferred {
        app.preload(d.index, d.rows, d.mentions, d.cursor);
        to_open.push((d.index, d.config));
    }
    app.bell = options.bell;
    app.hint = options.hint;
    let theme = Theme::from_env();

    // ratatui's init installs a panic hook that restores the terminal before the report.
    let mut terminal = ratatui::try_init().context("cannot set up the terminal")?;
    crossterm::execute!(std::io::stdout(), crossterm::event::EnableBracketedPaste)?;
    // The graphics query reads the terminal's answer from stdin: before the input task
    // starts reading it.
    let media = Media::new(
        app.profiles
            .iter()
            .zip(&live)
            .map(|(p, l)| {
                p.tenant.clone().map(|tenant| Source {
                    remote: l.remote.clone(),
                    tenant,
                })
            })
            .collect(),
        if options.images && crate::media::may_draw_images(|k| std::env::var(k).ok()) {
            crate::media::ask_terminal()
        } else {
            None
        },
    );
    app.inline_images = media.inline_images();
    match media.serve().await {
        Ok(base) => app.media_links = Some(base),
        Err(e) => tracing::warn!(error = %e, "attachments will not be clickable"),
    }
    let mut input = spawn_input(tx.clone());
    let ticker = {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(1));
            loop {
                every.tick().await;
                if tx.send(Msg::Tick(now())).is_err() {
                    break;
                }
            }
        })
    };
    let signals = {
        let tx = tx.clone();
        tokio::spawn(async move {
            if let Ok(mut term) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            {
                term.recv().await;
                let _ = tx.send(Msg::Terminate);
            }
        })
    };
    if app.screen == crate::app::Screen::Report {
        let effects = app.update(Msg::Key(crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Char('P'),
            crossterm::event::KeyModifiers::NONE,
        )));
        run_effects(effects, &app, &mut live, &media, &tx);
    }

    let result: Result<()> = async {
        terminal.draw(|f| ui::view(&app, &theme, f))?;
        // The first frame is up; now open the replicas it was drawn without.
        for (profile, config) in to_open.drain(..) {
            let tx = tx.clone();
            tokio::task::spawn_blocking(move || match Replica::open(&config) {
                Ok(replica) => {
                    discard_snapshot(&config);
                    let _ = tx.send(Msg::ReplicaReady { profile, replica });
                }
                Err(e) => {
                    let _ = tx.send(Msg::Connection {
                        profile,
                        state: ConnectionState::Refused {
                            reason: format!("the local replica cannot be opened: {e}"),
                        },
                    });
                }
            });
        }
        'outer: while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while let Ok(more) = rx.try_recv() {
                batch.push(more);
            }
            for msg in batch {
                let ready = match &msg {
                    Msg::ReplicaReady { profile, replica } => Some((*profile, replica.clone())),
                    _ => None,
                };
                let effects = app.update(msg);
                // After the app has read the replica's outbox, so the commands that waited
                // are not shown twice (once read from the outbox, once as they are pushed).
                if let Some((profile, replica)) = ready {
                    start_engine(profile, &replica, &mut live, &tx);
                }
                for effect in effects {
                    match effect {
                        Effect::Quit => break 'outer,
                        Effect::Editor { text } => {
                            input.abort();
                            let _ = (&mut input).await;
                            let edited = edit_externally(&text, &mut terminal);
                            input = spawn_input(tx.clone());
                            let _ = tx.send(Msg::EditorDone(edited));
                        }
                        other => run_effects(vec![other], &app, &mut live, &media, &tx),
                    }
                }
            }
            terminal.draw(|f| ui::view(&app, &theme, f))?;
        }
        Ok(())
    }
    .await;

    input.abort();
    ticker.abort();
    signals.abort();
    let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableBracketedPaste);
    ratatui::restore();
    for l in live {
        if let Some(sync) = l.sync {
            let replica = sync.replica().clone();
            let _ = tokio::time::timeout(Duration::from_secs(3), sync.shutdown()).await;
            // Next start draws from this at once.
            if let Some(dir) = l.config.as_ref().and_then(|c| c.replica_dir().ok())
                && let Err(e) = crate::snapshot::write(&replica, &crate::snapshot::path_for(&dir))
            {
                tracing::warn!(error = %e, "inbox snapshot not written");
            }
        }
    }
    result
}

/// Starts the engine of a profile whose replica just opened, and the pushing of the
/// commands made meanwhile (and after).
fn start_engine(
    profile: usize,
    replica: &Replica,
    live: &mut [Live],
    tx: &mpsc::UnboundedSender<Msg>,
) {
    let Some(l) = live.get_mut(profile) else {
        return;
    };
    let Some(config) = l.config.clone() else {
        return;
    };
    match SyncHandle::spawn(config, replica.clone()) {
        Ok(sync) => {
            forward_sync(profile, &sync, tx.clone());
            l.submits.start(sync.submitter(), tx.clone());
            l.sync = Some(sync);
        }
        Err(e) => {
            let _ = tx.send(Msg::Connection {
                profile,
                state: ConnectionState::Refused {
                    reason: e.to_string(),
                },
            });
        }
    }
}

fn run_effects(
    effects: Vec<Effect>,
    app: &App,
    live: &mut [Live],
    media: &Arc<Media>,
    tx: &mpsc::UnboundedSender<Msg>,
) {
    for effect in effects {
        match effect {
            Effect::Submit {
                local,
                profile,
                command,
            } => {
                let Some(l) = live.get_mut(profile) else {
                    continue;
                };
                // Waits in the channel while the replica is still opening.
                let _ = l.submits.tx.send((local, command));
            }
            Effect::FetchSettings { profile } => {
                let tenant = app.profile(profile).and_then(|p| p.tenant.clone());
                spawn_remote(
                    live,
                    profile,
                    tenant,
                    tx,
                    move |remote, tenant| async move {
                        let result = remote.settings(&tenant).await.map_err(|e| e.to_string());
                        Msg::Settings { profile, result }
                    },
                );
            }
            Effect::SetAutoSend { profile, on } => {
                let tenant = app.profile(profile).and_then(|p| p.tenant.clone());
                settings_change(live, profile, tenant, tx, "auto-send was not changed", {
                    move |remote: Remote, tenant: String| async move {
                        remote.set_auto_send(&tenant, on).await
                    }
                });
            }
            Effect::MintConnectLink { profile, kind } => {
                let tenant = app.profile(profile).and_then(|p| p.tenant.clone());
                settings_change(live, profile, tenant, tx, "no connect link was made", {
                    move |remote: Remote, tenant: String| async move {
                        remote.mint_link(&tenant, &kind).await
                    }
                });
            }
            Effect::Disconnect { profile, channel } => {
                let tenant = app.profile(profile).and_then(|p| p.tenant.clone());
                settings_change(
                    live,
                    profile,
                    tenant,
                    tx,
                    "the channel was not disconnected",
                    {
                        move |remote: Remote, tenant: String| async move {
                            remote.disconnect(&tenant, &channel).await
                        }
                    },
                );
            }
            Effect::FetchReport { profile } => {
                let owner = app
                    .profile(profile)
                    .is_some_and(|p| p.role == crate::app::ProfileRole::Owner);
                let id = app.profile(profile).and_then(|p| {
                    if owner {
                        p.tenant.clone()
                    } else {
                        p.partner.clone()
                    }
                });
                spawn_remote(live, profile, id, tx, move |remote, id| async move {
                    let result = if owner {
                        remote.tenant_report(&id).await
                    } else {
                        remote.report(&id).await
                    };
                    Msg::Report {
                        profile,
                        result: result.map_err(|e| e.to_string()),
                    }
                });
            }
            Effect::FetchTemplates { profile, channel } => {
                let tenant = app.profile(profile).and_then(|p| p.tenant.clone());
                spawn_remote(
                    live,
                    profile,
                    tenant,
                    tx,
                    move |remote, tenant| async move {
                        let result = remote
                            .templates(&tenant, &channel)
                            .await
                            .map_err(|e| e.to_string());
                        Msg::Templates {
                            profile,
                            channel,
                            result,
                        }
                    },
                );
            }
            Effect::OpenMedia { key, number } => {
                let (media, tx) = (media.clone(), tx.clone());
                tokio::spawn(async move {
                    let result = media.open(&key).await.map_err(|e| e.to_string());
                    let _ = tx.send(Msg::MediaOpened { number, result });
                });
            }
            Effect::FetchImages { keys } => {
                let width = crossterm::terminal::size().map_or(80, |(w, _)| w);
                let room = crate::ui::image_room(width);
                for key in keys {
                    let (media, tx) = (media.clone(), tx.clone());
                    tokio::spawn(async move {
                        let result = media.image(&key, room).await.map_err(|e| e.to_string());
                        let _ = tx.send(Msg::Image { key, result });
                    });
                }
            }
            Effect::FetchCanned { profile } => {
                let tenant = app.profile(profile).and_then(|p| p.tenant.clone());
                spawn_remote(
                    live,
                    profile,
                    tenant,
                    tx,
                    move |remote, tenant| async move {
                        let result = remote.canned(&tenant).await.map_err(|e| e.to_string());
                        Msg::Canned { profile, result }
                    },
                );
            }
            Effect::PutCanned {
                profile,
                shortcut,
                title,
                text,
            } => {
                let done = format!("/{shortcut} saved");
                canned_change(
                    app,
                    live,
                    profile,
                    tx,
                    done,
                    move |remote, tenant| async move {
                        remote.put_canned(&tenant, &shortcut, &title, &text).await
                    },
                );
            }
            Effect::RemoveCanned { profile, shortcut } => {
                let done = format!("/{shortcut} removed");
                canned_change(
                    app,
                    live,
                    profile,
                    tx,
                    done,
                    move |remote, tenant| async move { remote.remove_canned(&tenant, &shortcut).await },
                );
            }
            Effect::Bell => {
                use std::io::Write;
                let mut out = std::io::stdout();
                let _ = out.write_all(b"\x07");
                let _ = out.flush();
            }
            Effect::Upload {
                profile,
                thread,
                channel,
                on,
                kind,
                path,
                caption,
            } => {
                let tenant = app.profile(profile).and_then(|p| p.tenant.clone());
                spawn_remote(
                    live,
                    profile,
                    tenant,
                    tx,
                    move |remote, tenant| async move {
                        let result = remote
                            .upload(&tenant, &channel, on, kind, &path)
                            .await
                            .map_err(|e| e.to_string());
                        Msg::Uploaded {
                            profile,
                            thread,
                            kind,
                            caption,
                            result,
                        }
                    },
                );
            }
            Effect::Editor { .. } | Effect::Quit => {}
        }
    }
}

/// Runs an admin-API call with `profile`'s own client for `id` (its tenant or partner) in a
/// task, and sends the message it makes.
fn spawn_remote<F, Fut>(
    live: &[Live],
    profile: usize,
    id: Option<String>,
    tx: &mpsc::UnboundedSender<Msg>,
    call: F,
) where
    F: FnOnce(Remote, String) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Msg> + Send + 'static,
{
    let (Some(l), Some(id)) = (live.get(profile), id) else {
        return;
    };
    let remote = l.remote.clone();
    let tx = tx.clone();
    tokio::spawn(async move {
        let _ = tx.send(call(remote, id).await);
    });
}

/// An owner's change to the canned replies in a task, answered as `Msg::CannedChanged`
/// (`done` when it went through).
fn canned_change<F, Fut>(
    app: &App,
    live: &[Live],
    profile: usize,
    tx: &mpsc::UnboundedSender<Msg>,
    done: String,
    change: F,
) where
    F: FnOnce(Remote, String) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), crate::remote::RemoteError>> + Send + 'static,
{
    let tenant = app.profile(profile).and_then(|p| p.tenant.clone());
    spawn_remote(
        live,
        profile,
        tenant,
        tx,
        move |remote, tenant| async move {
            let result = change(remote, tenant)
                .await
                .map(|()| done)
                .map_err(|e| e.to_string());
            Msg::CannedChanged { profile, result }
        },
    );
}

/// An owner's change from the settings screen in a task, then the screen read back (or
/// `failed` and why, when the change did not go through).
fn settings_change<F, Fut, T>(
    live: &[Live],
    profile: usize,
    tenant: Option<String>,
    tx: &mpsc::UnboundedSender<Msg>,
    failed: &'static str,
    change: F,
) where
    F: FnOnce(Remote, String) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<T, crate::remote::RemoteError>> + Send + 'static,
    T: Send + 'static,
{
    spawn_remote(
        live,
        profile,
        tenant,
        tx,
        move |remote, tenant| async move {
            let done = change(remote.clone(), tenant.clone()).await;
            let result = remote.settings_after(&tenant, done, failed).await;
            Msg::Settings { profile, result }
        },
    );
}

/// Suspends the screen, runs `$VISUAL`/`$EDITOR` (default `vi`) on a temporary file holding
/// `text`, and returns what was saved.
fn edit_externally(text: &str, terminal: &mut ratatui::DefaultTerminal) -> Result<String, String> {
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "vi".into());
    let file = tempfile::Builder::new()
        .prefix("chatdesk-reply-")
        .suffix(".txt")
        .tempfile()
        .map_err(|e| e.to_string())?;
    std::fs::write(file.path(), text).map_err(|e| e.to_string())?;
    ratatui::restore();
    let mut parts = editor.split_whitespace();
    let program = parts.next().unwrap_or("vi");
    let status = std::process::Command::new(program)
        .args(parts)
        .arg(file.path())
        .status();
    // Back to the desk whatever happened in the editor.
    *terminal = ratatui::init();
    let _ = terminal.clear();
    let status = status.map_err(|e| format!("{editor}: {e}"))?;
    if !status.success() {
        return Err(format!(
            "{editor} exited with {status}; the text was not changed"
        ));
    }
    let edited = std::fs::read_to_string(file.path()).map_err(|e| e.to_string())?;
    Ok(edited.trim_end_matches('\n').to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::{SyncConfig, Token};
    use protocol::{Command, Seq, ThreadId};

    fn mark(n: u64) -> Command {
        Command::MarkRead {
            thread: ThreadId::new("th"),
            up_to: Seq(n),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_profiles_commands_reach_its_outbox_in_the_order_they_were_made() {
        let dir = tempfile::tempdir().unwrap();
        // Nothing listens on port 9: the engine stays offline and the outbox keeps all.
        let mut config = SyncConfig::new("http://127.0.0.1:9", Token::new("tok-order"));
        config.data_dir = Some(dir.path().to_path_buf());
        let replica = Replica::open(&config).unwrap();
        let sync = SyncHandle::spawn(config, replica.clone()).unwrap();
        let (msgs, mut answers) = mpsc::unbounded_channel();
        let mut submits = Submits::new();
        // Some made while the replica was still opening, the rest after the engine started.
        for n in 1..=10 {
            submits.tx.send((n, mark(n))).unwrap();
        }
        submits.start(sync.submitter(), msgs);
        for n in 11..=40 {
            submits.tx.send((n, mark(n))).unwrap();
        }
        let mut locals = Vec::new();
        while locals.len() < 40 {
            match answers.recv().await.unwrap() {
                Msg::Submitted { local, result } => {
                    result.unwrap();
                    locals.push(local);
                }
                _ => unreachable!("only submissions answer here"),
            }
        }
        assert_eq!(locals, (1..=40).collect::<Vec<_>>());
        let queued: Vec<Command> = replica
            .outbox()
            .pending()
            .unwrap()
            .into_iter()
            .map(|p| p.command)
            .collect();
        assert_eq!(queued, (1..=40).map(mark).collect::<Vec<_>>());
        sync.shutdown().await.unwrap();
    }
}
