//! Drafting on arrival: every customer message that reaches a tenant with knowledge gets a
//! grounded draft (`crate::draft`) checked by the safety classifier (`crate::safety`), or a
//! hand-off to a person, recorded as a `Desk` event of the reserved agent `drafter` and fanned
//! out to the tenant's desks.
//!
//! Ingest only hands the stored events over (a channel send), so drafting never slows an
//! acknowledgement. One task drafts for every tenant, in arrival order; each tenant's drafter
//! and classifier are built once from its knowledge file and rebuilt when the file changes.
//! A person's draft in progress is never overwritten (`Store::propose_draft`).
//!
//! A draft the classifier passed is queued for sending at once when the tenant enabled
//! auto-send, has credits and the window is open to automation (`Store::propose_draft`); the
//! outbox then sends it as automation, never with the human-agent tag.
//!
//! When Meta echoes a message someone at the business wrote in its own app (an echo none of
//! our sends explains), the thread is marked `owner_replying` and the drafter stays out until
//! an agent sends `resume_drafting`.
//!
//! With `LLM_BASE_URL` set, an OpenAI-compatible model words the reply from the facts the
//! grounded drafter retrieved (`crate::llm`); it is never asked when the drafter hands off,
//! and its failures fall back to the grounded text, saying so in the draft's basis.
//!
//! The tenant's ordered reply rules (`crate::rules`) are tried first: a matching rule's canned
//! reply (classified like any draft) replaces the drafter's, may auto-send on its own, and
//! may hide the comment it matched. Rules and drafts need the tenant's knowledge loaded.

pub mod dry_run;
mod lookup;

use crate::clock::Clock;
use crate::desk::hub::Hub;
use crate::draft::{Draft, Drafter, FactRef, Speaker, Turn};
use crate::knowledge::Knowledge;
use crate::llm::Llm;
use crate::outbox::Outbox;
use crate::principal::TenantScope;
use crate::rules;
use crate::safety::{Cited, Classifier, Verdict};
use crate::store::{MessageContent, Proposal, ProposalOutcome, Store, StoreError};
use protocol::inbound::InboundKind;
use protocol::{DeskAction, Direction, DraftBasis, Event, EventBody, Seq, TenantId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::mpsc;

/// Earlier messages of the thread given to the drafter as context.
const CONTEXT_TURNS: usize = 8;

/// A tenant's drafter and classifier, built from one version of its knowledge.
struct Brain {
    drafter: Drafter,
    classifier: Classifier,
    /// The relay's other tenants' names, which no draft of this tenant may mention.
    others: Vec<String>,
}

/// Per tenant: `None` when it has no knowledge (no drafting).
type Brains = Arc<Mutex<HashMap<TenantId, Option<Arc<Brain>>>>>;

struct Job {
    scope: TenantScope,
    events: Vec<Event>,
}

/// The drafting task's inbox.
#[derive(Clone)]
pub struct Drafting {
    tx: mpsc::UnboundedSender<Job>,
    brains: Brains,
    store: Arc<dyn Store>,
}

impl Drafting {
    /// Starts the drafting task.
    #[must_use]
    pub fn spawn(
        store: Arc<dyn Store>,
        hub: Arc<Hub>,
        clock: Arc<dyn Clock>,
        outbox: Outbox,
        llm: Option<Llm>,
        shutdown: &crate::shutdown::Shutdown,
    ) -> Drafting {
        let (tx, rx) = mpsc::unbounded_channel();
        let brains: Brains = Arc::default();
        let task = Task {
            store: store.clone(),
            hub,
            clock,
            outbox,
            llm: llm.map(Arc::new),
            http: reqwest::Client::new(),
            brains: brains.clone(),
        };
        shutdown.spawn(task.run(rx, shutdown.clone()));
        Drafting { tx, brains, store }
    }

    /// Why the safety classifier holds `text`, a person's reply on `thread` (grounded in
    /// the tenant's knowledge and the customer's newest messages), with the same classifier
    /// drafts get. Empty: it passes, or the tenant has no knowledge to check against.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn screen(
        &self,
        scope: &TenantScope,
        thread: &crate::store::ThreadView,
        text: &str,
    ) -> Result<Vec<String>, StoreError> {
        let Some(brain) = brain(&*self.store, &self.brains, scope).await? else {
            return Ok(Vec::new());
        };
        let said: Vec<String> =
            customer_turns(&*self.store, scope, &thread.id, Seq(thread.last_seq.0 + 1))
                .await?
                .into_iter()
                .filter(|t| t.from == Speaker::Customer)
                .map(|t| t.text)
                .collect();
        Ok(held(
            &brain,
            text,
            &said.join("\n"),
            thread.channel,
            &Cited::default(),
        ))
    }

    /// Hands over freshly stored events; customer messages among them get drafts.
    pub fn submit(&self, scope: &TenantScope, events: &[Event]) {
        // Known to have no knowledge: nothing to draft, so nothing to copy on the ingest path.
        let known_idle = matches!(
            self.brains
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(scope.tenant()),
            Some(None)
        );
        if known_idle {
            return;
        }
        let events: Vec<Event> = events
            .iter()
            .filter(|e| customer_text(e).is_some())
            .cloned()
            .collect();
        if events.is_empty() {
            return;
        }
        // The task lives as long as the runtime; a closed channel means shutdown.
        let _ = self.tx.send(Job {
            scope: scope.clone(),
            events,
        });
    }

    /// The tenant's knowledge changed: rebuild its drafter on the next message.
    pub fn forget(&self, tenant: &TenantId) {
        self.brains
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(tenant);
    }
}

/// The text of a customer's message, if the event is one.
fn customer_text(event: &Event) -> Option<&str> {
    let EventBody::Inbound(inbound) = &event.body else {
        return None;
    };
    if inbound.direction != Direction::Inbound {
        return None;
    }
    match &inbound.kind {
        InboundKind::Message(m) => m.text.as_deref(),
        InboundKind::Comment(c) => c.text.as_deref(),
        _ => None,
    }
    .filter(|t| !t.trim().is_empty())
}

/// The classifier's reasons to hold `reply` (empty: it passed).
fn held(
    brain: &Brain,
    reply: &str,
    message: &str,
    channel: protocol::Channel,
    cited: &Cited<'_>,
) -> Vec<String> {
    match brain
        .classifier
        .check_cited(reply, message, channel, &brain.others, cited)
    {
        Verdict::Pass => Vec::new(),
        Verdict::Hold(reasons) => reasons.iter().map(ToString::to_string).collect(),
    }
}

/// Parses and validates a stored knowledge file and builds what drafting needs from it,
/// on the blocking pool. A load that panicked is reported as an error, like a bad file.
async fn load_off_worker(text: String) -> Result<(Drafter, Classifier), String> {
    tokio::task::spawn_blocking(move || {
        let k = Knowledge::from_toml(&text).map_err(|e| e.to_string())?;
        Ok((Drafter::new(&k), Classifier::new(&k)))
    })
    .await
    .map_err(|e| e.to_string())?
}

/// The tenant's drafter and classifier, built once per knowledge version and shared by
/// drafting and [`Drafting::screen`].
async fn brain(
    store: &dyn Store,
    brains: &Brains,
    scope: &TenantScope,
) -> Result<Option<Arc<Brain>>, StoreError> {
    let tenant = scope.tenant();
    if let Some(known) = brains
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(tenant)
    {
        return Ok(known.clone());
    }
    let brain = match store.knowledge(scope).await? {
        // The file was validated when it was loaded; one that no longer parses (after an
        // upgrade of the format) means no drafts rather than a crash. Loading a large
        // file takes milliseconds, so it runs on the blocking pool.
        Some(text) => match load_off_worker(text).await {
            Ok((drafter, classifier)) => Some(Arc::new(Brain {
                drafter,
                classifier,
                others: other_tenant_names(store, tenant).await?,
            })),
            Err(e) => {
                tracing::warn!(tenant = %tenant, error = %e, "stored knowledge no longer loads; not drafting");
                None
            }
        },
        None => None,
    };
    brains
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(tenant.clone(), brain.clone());
    Ok(brain)
}

/// Names of every other tenant on this relay (read when a tenant's brain is built).
async fn other_tenant_names(
    store: &dyn Store,
    tenant: &TenantId,
) -> Result<Vec<String>, StoreError> {
    let mut names = Vec::new();
    for (other, _) in store.heads().await? {
        if &other == tenant {
            continue;
        }
        if let Some(record) = store.tenant(&other).await? {
            names.push(record.name);
        }
    }
    Ok(names)
}

/// The thread's messages up to `before` (exclusive), as the drafter's conversation: the
/// last [`CONTEXT_TURNS`] texts either way.
async fn customer_turns(
    store: &dyn Store,
    scope: &TenantScope,
    thread: &protocol::ThreadId,
    before: Seq,
) -> Result<Vec<Turn>, StoreError> {
    let messages = store.messages(scope, thread).await?;
    let mut turns: Vec<Turn> = messages
        .into_iter()
        .filter(|m| m.seq < before)
        .filter_map(|m| {
            let text = match m.content {
                MessageContent::Message { text, .. } | MessageContent::Comment { text, .. } => {
                    text?
                }
                MessageContent::Postback { .. } | MessageContent::Removed => return None,
            };
            let from = match m.direction {
                Direction::Inbound => Speaker::Customer,
                Direction::Outbound => Speaker::Business,
            };
            Some(Turn { from, text })
        })
        .collect();
    let skip = turns.len().saturating_sub(CONTEXT_TURNS);
    turns.drain(..skip);
    Ok(turns)
}

struct Task {
    store: Arc<dyn Store>,
    hub: Arc<Hub>,
    clock: Arc<dyn Clock>,
    outbox: Outbox,
    llm: Option<Arc<Llm>>,
    /// For the owners' order lookups (each call carries its own timeout).
    http: reqwest::Client,
    brains: Brains,
}

/// The drafter's answer to a message, with an order looked up through the owner's hook when
/// the message names one the knowledge does not list. A lookup that fails is logged and
/// treated as unknown: the drafter then asks or hands off.
pub async fn draft_looking_up(
    drafter: &Drafter,
    http: &reqwest::Client,
    message: &str,
    turns: &[Turn],
) -> (Draft, Vec<String>) {
    let k = drafter.knowledge();
    let looked_up = match (
        &k.business.order_lookup,
        drafter.order_number(message, turns),
    ) {
        (Some(hook), Some(n)) if k.order(&n).is_none() => {
            match lookup::order(http, hook, &n).await {
                Ok(found) => found,
                Err(e) => {
                    tracing::warn!(error = %e, "order lookup failed");
                    None
                }
            }
        }
        _ => None,
    };
    let texts = looked_up.as_ref().map(lookup::texts).unwrap_or_default();
    (
        drafter.draft_with(message, turns, looked_up.as_ref()),
        texts,
    )
}

impl Task {
    /// Drafts job after job until the relay stops: the draft in hand is finished, the
    /// messages still queued get none (an agent drafts them, as for any message).
    async fn run(self, mut rx: mpsc::UnboundedReceiver<Job>, shutdown: crate::shutdown::Shutdown) {
        while let Some(Some(job)) = shutdown.unless_stopping(rx.recv()).await {
            for event in &job.events {
                if shutdown.is_stopping() {
                    return;
                }
                if let Err(e) = self.draft_for(&job.scope, event).await {
                    tracing::error!(tenant = %job.scope.tenant(), seq = %event.seq, error = %e, "drafting failed");
                }
            }
        }
    }

    async fn brain(&self, scope: &TenantScope) -> Result<Option<Arc<Brain>>, StoreError> {
        brain(&*self.store, &self.brains, scope).await
    }

    async fn draft_for(&self, scope: &TenantScope, event: &Event) -> Result<(), StoreError> {
        let (Some(text), EventBody::Inbound(inbound)) = (customer_text(event), &event.body) else {
            return Ok(());
        };
        let Some(brain) = self.brain(scope).await? else {
            return Ok(());
        };
        let turns = self.context(scope, &inbound.thread, event.seq).await?;
        let (draft, looked_up) = draft_looking_up(&brain.drafter, &self.http, text, &turns).await;
        let intents: Vec<String> = draft.intents.iter().map(ToString::to_string).collect();
        let facts: Vec<String> = draft.facts.iter().map(ToString::to_string).collect();
        let knowledge = brain.drafter.knowledge();
        // The tenant's rules come first; the drafter's intents serve their intent matchers.
        let settings = self.store.settings(scope).await?;
        let rule = rules::first_match(&settings.rules, inbound.channel, text, &intents);
        let cite_none: [FactRef; 0] = [];
        let as_draft = |reply: String, facts: Vec<String>, source: String, cited: &[FactRef]| {
            let held = held(
                &brain,
                &reply,
                text,
                inbound.channel,
                &Cited {
                    facts: cited,
                    looked_up: &looked_up,
                },
            );
            ProposalOutcome::Draft {
                text: reply,
                basis: DraftBasis {
                    intents: intents.clone(),
                    facts,
                    held,
                    source,
                },
            }
        };
        let canned = rule
            .and_then(|r| r.reply.as_deref())
            .map(|reply| rules::fill(reply, &knowledge.business.name, &inbound.customer.handle()));
        let instruction = rule.and_then(|r| r.prompt.as_deref());
        let outcome = match (rule, canned, draft.text, draft.handoff) {
            (_, Some(reply), _, _) => {
                let name = rule.map_or("", |r| r.name.as_str());
                as_draft(reply, Vec::new(), format!("rule:{name}"), &cite_none)
            }
            (Some(_), None, _, _) if instruction.is_none() => ProposalOutcome::Quiet,
            (_, None, Some(grounded), _) => {
                // The model may only reword what the grounded drafter found (following a
                // matched rule's instruction, if any); any failure keeps the grounded text.
                let label = rule.map_or_else(String::new, |r| format!("rule:{} ", r.name));
                let (reply, source) = match &self.llm {
                    None => (grounded, format!("{label}grounded")),
                    Some(llm) => {
                        let basis = crate::llm::Grounded {
                            facts: &draft.facts,
                            text: &grounded,
                            language: draft.language,
                        };
                        match llm
                            .draft_with(knowledge, basis, &turns, text, instruction)
                            .await
                        {
                            Ok(reply) => (reply, format!("{label}llm")),
                            Err(e) => (grounded.clone(), format!("{label}grounded ({e})")),
                        }
                    }
                };
                as_draft(reply, facts, source.trim().to_owned(), &draft.facts)
            }
            (_, None, None, reason) => {
                let reason = reason.unwrap_or_else(|| "the drafter has no answer".into());
                match &settings.default_reply {
                    // A holding reply for a person to approve: held, so never auto-sent.
                    Some(default) => ProposalOutcome::Draft {
                        text: rules::fill(
                            default,
                            &knowledge.business.name,
                            &inbound.customer.handle(),
                        ),
                        basis: DraftBasis {
                            intents: intents.clone(),
                            facts: Vec::new(),
                            held: vec![format!("hand-off: {reason}")],
                            source: "default reply".into(),
                        },
                    },
                    None => ProposalOutcome::HandOff {
                        reason,
                        intents: intents.clone(),
                    },
                }
            }
        };
        let hide_comment = match (&inbound.kind, rule) {
            (InboundKind::Comment(c), Some(rule)) if rule.hide_comment => Some(c.id.clone()),
            _ => None,
        };
        let proposal = Proposal {
            thread: inbound.thread.clone(),
            answering: event.seq,
            at: self.clock.now(),
            outcome,
            auto_send: rule.and_then(|r| r.auto_send),
            hide_comment,
        };
        let recorded = self.store.propose_draft(scope, proposal).await?;
        if recorded.is_empty() {
            return Ok(());
        }
        self.store.sync().await?;
        let queued = recorded.iter().any(|e| {
            matches!(&e.body, EventBody::Desk(d) if matches!(
                d.action,
                DeskAction::ReplyQueued { .. } | DeskAction::CommentHidden { .. }
            ))
        });
        self.hub.publish(scope, recorded);
        if queued {
            self.outbox.kick(scope.tenant());
        }
        Ok(())
    }

    /// The thread's messages before `before`, as the drafter's conversation.
    async fn context(
        &self,
        scope: &TenantScope,
        thread: &protocol::ThreadId,
        before: Seq,
    ) -> Result<Vec<Turn>, StoreError> {
        customer_turns(&*self.store, scope, thread, before).await
    }
}
