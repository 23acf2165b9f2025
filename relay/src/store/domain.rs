//! Storage rules above the backend, written once: de-duplication, sequence numbers and the
//! evidence chain of `append`; `apply_command`'s idempotency → decision → projection; the
//! drafter's auto-send policy; removing a customer's data. Any [`Backend`] becomes a
//! [`Store`] through the blanket implementation here.
//!
//! The rules run synchronously inside one [`Backend::tenant_step`], against a [`Staged`]
//! overlay that reads through to the backend and collects the step's [`Changes`], so later
//! events of one append see earlier ones' changes and the backend writes them at once.
//! Concurrent appends of one tenant are joined into one such step ([`super::group`]): one
//! lock, one commit, one flush for all of them.
//! Nothing here knows how or where records are kept.

use super::backend::{Backend, CannedChange, Changes, NewRecord, Reads, TenantTx, Watch};
use super::cluster::{Lease, Notice, Signal};
use super::decide::{Facts, decide, named_ids};
use super::group::{Groups, Outcome};
use super::project::{Views, project};
use super::{
    AgentRecord, Appended, ChannelChange, ChannelRecord, CommandOutcome, CommandRequest,
    DRAFTER_AGENT, DeletionRecord, MessageView, Modified, NewEvent, OnceRecord, PartnerRecord,
    Proposal, ProposalOutcome, Redacted, SendState, SendView, Store, StoreError, TenantDeletion,
    TenantRecord, TenantRemoved, TenantSettings, ThreadView, redact,
};
use crate::audit::{self, Hash, Verdict};
use crate::principal::TenantScope;
use crate::store::RouteKey;
use async_trait::async_trait;
use protocol::canned::CannedReply;
use protocol::{
    AgentId, Answer, ChannelId, Command, CreditsEvent, DeskAction, DeskEvent, Draft, DraftAuthor,
    Event, EventBody, Millis, PartnerId, Seq, TenantId, ThreadId,
};
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, PoisonError};

/// How many logged events a paged pass over a tenant's log reads at a time.
const PAGE: usize = 1000;

/// Every backend's group appends, per (backend, tenant): see [`super::group`].
/// An event to append with the routing generation it was routed at, if from memory.
type RoutedEvent = (NewEvent, Option<i64>);

static APPENDS: LazyLock<Groups<(usize, TenantId), RoutedEvent, Appended>> =
    LazyLock::new(Groups::default);

impl Outcome for Appended {
    /// An item the abandoned step stored is reported as stored by it: the re-run finds it
    /// under its own sequence number, which only that step's commit can have put there.
    fn after_abandoned(self, earlier: &Self) -> Self {
        match (self, earlier) {
            (Appended::Duplicate(seq), Appended::Stored(e)) if e.seq == seq => {
                Appended::Stored(e.clone())
            }
            (now, _) => now,
        }
    }
}

/// A step's view of the tenant: the backend's stored state under the step's own changes.
pub struct Staged<'a> {
    tx: &'a mut dyn TenantTx,
    tenant: TenantId,
    head: Option<(Seq, Hash)>,
    events: Vec<NewRecord>,
    dedup: HashMap<String, Seq>,
    threads: HashMap<ThreadId, ThreadView>,
    messages: HashMap<String, MessageView>,
    sends: HashMap<Seq, SendView>,
    credit_delta: i64,
}

impl<'a> Staged<'a> {
    pub fn new(tx: &'a mut dyn TenantTx, tenant: TenantId) -> Staged<'a> {
        Staged {
            tx,
            tenant,
            head: None,
            events: Vec::new(),
            dedup: HashMap::new(),
            threads: HashMap::new(),
            messages: HashMap::new(),
            sends: HashMap::new(),
            credit_delta: 0,
        }
    }

    fn chain(&mut self) -> Result<(Seq, Hash), StoreError> {
        match self.head {
            Some(head) => Ok(head),
            None => {
                let head = self.tx.chain()?;
                self.head = Some(head);
                Ok(head)
            }
        }
    }

    /// The sequence number of the event first stored under `key`, in this step or before.
    fn earlier(&mut self, key: &str) -> Result<Option<Seq>, StoreError> {
        match self.dedup.get(key) {
            Some(seq) => Ok(Some(*seq)),
            None => self.tx.dedup(key),
        }
    }

    /// Numbers `body` as the next event, chains its audit record and projects it.
    fn record(
        &mut self,
        received_at: Millis,
        body: EventBody,
        dedup_key: Option<String>,
    ) -> Result<Event, StoreError> {
        let (head, chain) = self.chain()?;
        let event = Event {
            tenant: self.tenant.clone(),
            seq: head.next(),
            received_at,
            body,
        };
        let audit = audit::record(&event, chain);
        self.head = Some((event.seq, audit.hash));
        if let Some(key) = &dedup_key {
            self.dedup.insert(key.clone(), event.seq);
        }
        project(&event, self)?;
        self.events.push(NewRecord {
            event: event.clone(),
            audit,
            dedup_key,
        });
        Ok(event)
    }

    /// Appends an exported entry as it was: it must continue the chain, for this tenant.
    fn restore(&mut self, entry: audit::Entry) -> Result<(), StoreError> {
        let (head, chain) = self.chain()?;
        let seq = entry.event.seq;
        if seq != head.next()
            || entry.audit.n != seq
            || entry.audit.prev != chain
            || entry.event.tenant != self.tenant
        {
            return Err(StoreError::Conflict(format!(
                "entry {seq} does not continue this tenant's log at {head}"
            )));
        }
        self.head = Some((seq, entry.audit.hash));
        project(&entry.event, self)?;
        // Meta's ids are not kept with events: a redelivery from before the move is new here.
        self.events.push(NewRecord {
            event: entry.event,
            audit: entry.audit,
            dedup_key: None,
        });
        Ok(())
    }

    /// Appends `events`, skipping duplicates (of the log and of this batch).
    fn append(&mut self, events: Vec<NewEvent>) -> Result<Vec<Appended>, StoreError> {
        let mut out = Vec::with_capacity(events.len());
        for new in events {
            if let Some(seq) = self.earlier(&new.dedup_key)? {
                out.push(Appended::Duplicate(seq));
                continue;
            }
            let event = self.record(new.received_at, new.body, Some(new.dedup_key))?;
            out.push(Appended::Stored(event));
        }
        Ok(out)
    }

    /// The step's changes, with `extra` (answers, settings) added.
    fn finish(self, extra: Changes) -> Result<(), StoreError> {
        let changes = Changes {
            events: self.events,
            threads: self.threads.into_values().collect(),
            messages: self.messages.into_values().collect(),
            sends: self.sends.into_values().collect(),
            credit_delta: self.credit_delta,
            ..extra
        };
        if changes.is_empty() {
            return Ok(());
        }
        self.tx.write(changes)
    }
}

impl Views for Staged<'_> {
    fn thread(&mut self, id: &ThreadId) -> Result<Option<ThreadView>, StoreError> {
        match self.threads.get(id) {
            Some(t) => Ok(Some(t.clone())),
            None => self.tx.thread(id),
        }
    }
    fn put_thread(&mut self, view: ThreadView) {
        self.threads.insert(view.id.clone(), view);
    }
    fn message_by_mid(&mut self, mid: &str) -> Result<Option<MessageView>, StoreError> {
        match self.messages.get(mid) {
            Some(m) => Ok(Some(m.clone())),
            None => self.tx.message_by_mid(mid),
        }
    }
    fn put_message(&mut self, view: MessageView) {
        self.messages.insert(view.mid.clone(), view);
    }
    fn send(&mut self, send: Seq) -> Result<Option<SendView>, StoreError> {
        match self.sends.get(&send) {
            Some(s) => Ok(Some(s.clone())),
            None => self.tx.send(send),
        }
    }
    fn put_send(&mut self, view: SendView) {
        self.sends.insert(view.send, view);
    }
    fn add_credits(&mut self, delta: i64) {
        self.credit_delta += delta;
    }
    fn send_in_flight(&mut self, thread: &ThreadId) -> Result<bool, StoreError> {
        let sending = |s: &SendView| &s.thread == thread && s.state == SendState::Sending;
        if self.sends.values().any(sending) {
            return Ok(true);
        }
        // A stored send this step changed counts as it is now, not as stored.
        Ok(self
            .tx
            .unfinished_sends()?
            .iter()
            .any(|s| self.sends.get(&s.send).map_or(sending(s), sending)))
    }
}

/// `Store::append`.
///
/// # Errors
/// Storage failures.
pub fn append(
    tx: &mut dyn TenantTx,
    tenant: TenantId,
    events: Vec<NewEvent>,
) -> Result<Vec<Appended>, StoreError> {
    let mut staged = Staged::new(tx, tenant);
    let out = staged.append(events)?;
    staged.finish(Changes::default())?;
    Ok(out)
}

/// `Store::apply_command`: a key this agent used before answers as the first time;
/// otherwise the command is decided against the thread as stored, and its event and answer
/// are written together.
///
/// # Errors
/// Storage failures, or stored data that contradicts the decision.
pub fn apply_command(
    tx: &mut dyn TenantTx,
    tenant: TenantId,
    request: CommandRequest,
) -> Result<CommandOutcome, StoreError> {
    if let Some(answer) = tx.answer(&request.agent, &request.key)? {
        return Ok(CommandOutcome {
            answer,
            event: None,
        });
    }
    let mut staged = Staged::new(tx, tenant);
    let thread = staged.thread(request.command.thread())?;
    let mut named = Vec::new();
    for mid in named_ids(&request.command) {
        named.extend(staged.message_by_mid(mid)?);
    }
    let send = match &request.command {
        Command::RetrySend { send, .. } | Command::DiscardSend { send, .. } => {
            staged.send(*send)?
        }
        _ => None,
    };
    let settings = staged.tx.settings()?;
    let decided = decide(
        &Facts {
            thread: thread.as_ref(),
            named: &named,
            send: send.as_ref(),
            credits: staged.tx.credits()?,
            settings: &settings,
        },
        &request,
    );
    let (action, thread) = match (decided, thread) {
        // A rejection changes nothing, so nothing is written: an agent sending refused
        // commands cannot grow the log. A retry with the same key is decided again.
        (Err(rejection), _) => {
            return Ok(CommandOutcome {
                answer: Answer::Rejected { rejection },
                event: None,
            });
        }
        (Ok(_), None) => {
            return Err(StoreError::Corrupt(
                "a command was allowed on a missing thread".into(),
            ));
        }
        (Ok(action), Some(thread)) => (action, thread),
    };
    let body = EventBody::Desk(DeskEvent {
        channel_id: thread.channel_id.clone(),
        thread: thread.id.clone(),
        agent: request.agent.clone(),
        key: Some(request.key.clone()),
        action,
    });
    let event = staged.record(request.received_at, body, None)?;
    let answer = Answer::Applied { seq: event.seq };
    staged.finish(Changes {
        answer: Some((request.agent, request.key, answer.clone())),
        ..Changes::default()
    })?;
    Ok(CommandOutcome {
        answer,
        event: Some(event),
    })
}

/// `Store::propose_draft`: the drafter's proposal as `Desk` events of the agent `drafter`,
/// never over a person's draft or a thread the business answers from Meta's own app; a
/// passed draft is queued at once when auto-send is on, the window is open to automation
/// and a credit is left.
///
/// # Errors
/// Storage failures.
pub fn propose_draft(
    tx: &mut dyn TenantTx,
    tenant: TenantId,
    proposal: Proposal,
) -> Result<Vec<Event>, StoreError> {
    let Some(thread) = tx.thread(&proposal.thread)? else {
        return Ok(Vec::new());
    };
    if thread.owner_replying
        || thread
            .draft
            .as_ref()
            .is_some_and(|d| matches!(d.author, DraftAuthor::Agent(_)))
    {
        return Ok(Vec::new());
    }
    let event = |key: String, action| NewEvent {
        dedup_key: key,
        received_at: proposal.at,
        body: EventBody::Desk(DeskEvent {
            channel_id: thread.channel_id.clone(),
            thread: thread.id.clone(),
            agent: AgentId::new(DRAFTER_AGENT),
            key: None,
            action,
        }),
    };
    let mut events = Vec::new();
    match proposal.outcome {
        ProposalOutcome::Draft { text, basis } => {
            let version = thread.draft_versions + 1;
            let passed = basis.held.is_empty();
            events.push(event(
                format!("draft:{}", proposal.answering),
                DeskAction::DraftEdited {
                    draft: Draft {
                        version,
                        text: text.clone(),
                        author: DraftAuthor::Drafter,
                        basis: Some(Box::new(basis)),
                    },
                },
            ));
            let open = thread.channel == protocol::Channel::InstagramComment
                || protocol::window::choose(
                    &thread.window(),
                    protocol::window::Sender::Automation,
                    proposal.at,
                )
                .is_some();
            let auto_send = proposal.auto_send.unwrap_or(tx.settings()?.auto_send);
            if passed && auto_send && open && tx.credits()? >= 1 {
                events.push(event(
                    format!("autosend:{}", proposal.answering),
                    DeskAction::ReplyQueued {
                        text,
                        from_draft: Some(version),
                        content: None,
                        reply_to: None,
                    },
                ));
            }
        }
        ProposalOutcome::HandOff { reason, intents } => events.push(event(
            format!("draft:{}", proposal.answering),
            DeskAction::HandedOff { reason, intents },
        )),
        ProposalOutcome::Quiet => {}
    }
    if let Some(comment_id) = proposal.hide_comment {
        events.push(event(
            format!("hide:{}", proposal.answering),
            DeskAction::CommentHidden {
                comment_id,
                hidden: true,
            },
        ));
    }
    Ok(append(tx, tenant, events)?
        .into_iter()
        .filter_map(|a| match a {
            Appended::Stored(e) => Some(e),
            Appended::Duplicate(_) => None,
        })
        .collect())
}

/// `Store::add_credits`: a `Credits` event carrying the new balance.
///
/// # Errors
/// Storage failures.
pub fn add_credits(
    tx: &mut dyn TenantTx,
    tenant: TenantId,
    add: i64,
    at: Millis,
) -> Result<(i64, Event), StoreError> {
    let balance = tx.credits()?.saturating_add(add);
    let next = tx.chain()?.0.next();
    let event = NewEvent {
        dedup_key: format!("credits:{next}"),
        received_at: at,
        body: EventBody::Credits(CreditsEvent {
            added: add,
            balance,
        }),
    };
    match append(tx, tenant, vec![event])?.pop() {
        Some(Appended::Stored(event)) => Ok((balance, event)),
        _ => Err(StoreError::Corrupt(
            "a credits event was taken for a duplicate".into(),
        )),
    }
}

/// `Store::redact_customer`: tombstones the customer's messages, removes the words of its
/// replies (abandoning unfinished ones) and its logged events' texts; audit records hold
/// only digests and stay, so the chain still verifies.
///
/// # Errors
/// Storage failures.
pub fn redact_customer(tx: &mut dyn TenantTx, customer: &str) -> Result<Vec<Redacted>, StoreError> {
    let mut changes = Changes::default();
    let mut out: Vec<Redacted> = Vec::new();
    for mut t in tx
        .threads()?
        .into_iter()
        .filter(|t| t.customer.id.as_str() == customer)
    {
        let mut done = Redacted {
            thread: t.id.clone(),
            channel_id: t.channel_id.clone(),
            messages: 0,
            events: 0,
            sends: 0,
        };
        for mut m in tx.messages(&t.id)? {
            redact::message(&mut m);
            changes.messages.push(m);
            done.messages += 1;
        }
        for mut send in tx.sends_of(&t.id)? {
            if redact::send(&mut send) {
                changes.sends.push(send);
                done.sends += 1;
            }
        }
        redact::thread(&mut t);
        changes.threads.push(t);
        out.push(done);
    }
    if out.is_empty() {
        return Ok(out);
    }
    // One pass over the tenant's log: the customer's threads' events, and raw items (no
    // thread) that name the customer.
    let mut after = Seq(0);
    loop {
        let page = tx.logged_after(after, PAGE)?;
        let Some(last) = page.last() else { break };
        after = last.event.seq;
        for mut entry in page {
            let owner = match redact::thread_of(&entry.event) {
                Some(id) => out.iter().position(|r| r.thread == *id),
                None => match &entry.event.body {
                    EventBody::Unknown(u) if u.raw.contains(customer) => {
                        out.iter().position(|r| r.channel_id == u.channel_id)
                    }
                    _ => None,
                },
            };
            let Some(owner) = owner else { continue };
            if redact::event(&mut entry.event) {
                changes.rewritten.push(entry);
                out[owner].events += 1;
            }
        }
    }
    tx.write(changes)?;
    Ok(out)
}

/// Every entry of the tenant's log re-hashed, streamed a page at a time.
fn verify(tx: &mut dyn TenantTx) -> Result<Verdict, StoreError> {
    let mut verifier = audit::Verifier::new();
    let mut after = Seq(0);
    loop {
        let page = tx.logged_after(after, PAGE)?;
        let Some(last) = page.last() else { break };
        after = last.event.seq;
        for entry in &page {
            verifier.push(entry);
        }
    }
    Ok(verifier.finish())
}

fn write_only(tx: &mut dyn TenantTx, changes: Changes) -> Result<(), StoreError> {
    tx.write(changes)
}

#[async_trait]
impl<B: Backend> Store for B {
    async fn once_records(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<(String, OnceRecord)>, StoreError> {
        Backend::once_records(self, tenant).await
    }
    async fn rename_partner(
        &self,
        id: &PartnerId,
        name: Option<String>,
        brand: Option<String>,
    ) -> Result<Option<PartnerRecord>, StoreError> {
        Backend::rename_partner(self, id, name, brand).await
    }
    async fn rename_tenant(
        &self,
        id: &TenantId,
        name: String,
    ) -> Result<Option<TenantRecord>, StoreError> {
        Backend::rename_tenant(self, id, name).await
    }
    async fn delete_partner(&self, id: &PartnerId) -> Result<Option<u64>, StoreError> {
        Backend::delete_partner(self, id).await
    }
    async fn delete_tenant(&self, scope: &TenantScope) -> Result<TenantRemoved, StoreError> {
        Backend::delete_tenant(self, scope).await
    }
    async fn put_tenant_deletion(&self, record: &TenantDeletion) -> Result<(), StoreError> {
        Backend::put_tenant_deletion(self, record).await
    }
    async fn tenant_deletions(&self) -> Result<Vec<TenantDeletion>, StoreError> {
        Backend::tenant_deletions(self).await
    }
    /// Written once for every backend: each tenant's newest seq and audit hash, read in a
    /// step of its own.
    async fn chain_heads(&self) -> Result<Vec<(TenantId, Seq, crate::audit::Hash)>, StoreError> {
        let mut out = Vec::new();
        for (tenant, _) in Backend::heads(self).await? {
            let (seq, hash) = self.tenant_read(&tenant, |tx| tx.chain()).await?;
            out.push((tenant, seq, hash));
        }
        Ok(out)
    }
    async fn insert_partner(&self, partner: PartnerRecord) -> Result<(), StoreError> {
        Backend::insert_partner(self, partner).await
    }
    async fn partner(&self, id: &PartnerId) -> Result<Option<PartnerRecord>, StoreError> {
        Backend::partner(self, id).await
    }
    async fn insert_tenant(&self, tenant: TenantRecord) -> Result<(), StoreError> {
        Backend::insert_tenant(self, tenant).await
    }
    async fn tenant(&self, id: &TenantId) -> Result<Option<TenantRecord>, StoreError> {
        Backend::tenant(self, id).await
    }
    async fn tenants_of(&self, partner: &PartnerId) -> Result<Vec<TenantRecord>, StoreError> {
        Backend::tenants_of(self, partner).await
    }
    async fn insert_agent(&self, agent: AgentRecord) -> Result<(), StoreError> {
        Backend::insert_agent(self, agent).await
    }
    async fn agent_by_token_hash(&self, hash: &str) -> Result<Option<AgentRecord>, StoreError> {
        Backend::agent_by_token_hash(self, hash).await
    }
    async fn revoke_agent(&self, scope: &TenantScope, agent: &AgentId) -> Result<bool, StoreError> {
        Backend::revoke_agent(self, scope, agent).await
    }
    async fn agents(&self, scope: &TenantScope) -> Result<Vec<(AgentRecord, bool)>, StoreError> {
        Backend::agents(self, scope).await
    }
    async fn insert_channel(
        &self,
        scope: &TenantScope,
        channel: ChannelRecord,
    ) -> Result<(), StoreError> {
        Backend::insert_channel(self, scope, channel).await
    }
    async fn update_channel(
        &self,
        scope: &TenantScope,
        channel: ChannelRecord,
    ) -> Result<(), StoreError> {
        let id = channel.id.clone();
        match Backend::modify_channel(self, scope, &id, Box::new(move |_| Some(channel))).await? {
            Some(_) => Ok(()),
            None => Err(StoreError::Backend(format!("no channel {id}"))),
        }
    }
    async fn put_once(&self, key: &str, record: OnceRecord) -> Result<(), StoreError> {
        Backend::put_once(self, key, record).await
    }
    async fn take_once(&self, key: &str) -> Result<Option<OnceRecord>, StoreError> {
        Backend::take_once(self, key).await
    }
    async fn sweep_once(&self, now: Millis) -> Result<usize, StoreError> {
        Backend::sweep_once(self, now).await
    }
    async fn channels(&self, scope: &TenantScope) -> Result<Vec<ChannelRecord>, StoreError> {
        Backend::channels(self, scope).await
    }
    async fn channel_by_route(&self, key: &RouteKey) -> Result<Option<ChannelRecord>, StoreError> {
        Backend::channel_by_route(self, key).await
    }
    async fn route(&self, keys: &[RouteKey]) -> Result<Option<super::Routed>, StoreError> {
        Backend::route(self, keys).await
    }
    async fn modify_channel(
        &self,
        scope: &TenantScope,
        id: &ChannelId,
        change: ChannelChange,
    ) -> Result<Option<Modified>, StoreError> {
        Backend::modify_channel(self, scope, id, change).await
    }
    async fn redact_customer(
        &self,
        scope: &TenantScope,
        customer: &str,
    ) -> Result<Vec<Redacted>, StoreError> {
        let customer = customer.to_owned();
        let out = self
            .tenant_step(scope.tenant(), move |tx| redact_customer(tx, &customer))
            .await?;
        if !out.is_empty() {
            self.purge_history().await?;
        }
        Ok(out)
    }
    async fn put_deletion(&self, code: &str, record: &DeletionRecord) -> Result<(), StoreError> {
        Backend::put_deletion(self, code, record).await
    }
    async fn deletion(&self, code: &str) -> Result<Option<DeletionRecord>, StoreError> {
        Backend::deletion(self, code).await
    }
    async fn partners(&self) -> Result<Vec<PartnerRecord>, StoreError> {
        Backend::partners(self).await
    }
    async fn channel_activity(
        &self,
        scope: &TenantScope,
    ) -> Result<Vec<(ChannelId, Millis)>, StoreError> {
        self.tenant_read(scope.tenant(), |tx| tx.channel_activity())
            .await
    }
    async fn append(
        &self,
        scope: &TenantScope,
        events: Vec<NewEvent>,
    ) -> Result<Vec<Appended>, StoreError> {
        self.append_routed(scope, events, None).await
    }
    async fn append_routed(
        &self,
        scope: &TenantScope,
        events: Vec<NewEvent>,
        routed: Option<i64>,
    ) -> Result<Vec<Appended>, StoreError> {
        // Keyed by this backend's address: the blanket impl has no field of its own, and a
        // backend is borrowed (so neither moved nor dropped) while any append of it runs.
        let key = (std::ptr::from_ref(self).addr(), scope.tenant().clone());
        let items = events.into_iter().map(|e| (e, routed)).collect();
        APPENDS
            .run(key, items, self.gathers(), |batch, computed| async move {
                let mut reads = Reads::default();
                for (new, routed) in &batch {
                    reads.dedup.push(new.dedup_key.clone());
                    super::project::reads(&new.body, &mut reads);
                    if let Some(generation) = routed
                        && !reads.routed.contains(generation)
                    {
                        reads.routed.push(*generation);
                    }
                }
                let batch: Vec<NewEvent> = batch.into_iter().map(|(e, _)| e).collect();
                let batch = Mutex::new(Some(batch));
                let tenant = scope.tenant().clone();
                // Retryable: a backend may run it first against what it remembers; only
                // such an earlier run copies the events.
                self.tenant_append(scope.tenant(), reads, move |tx, last| {
                    let held = {
                        let mut held = batch.lock().unwrap_or_else(PoisonError::into_inner);
                        if last { held.take() } else { held.clone() }
                    };
                    let events = held.ok_or_else(|| {
                        StoreError::Backend("an append step ran after its last run".into())
                    })?;
                    let out = append(tx, tenant.clone(), events)?;
                    computed.record(&out);
                    Ok(out)
                })
                .await
            })
            .await
    }
    async fn apply_command(
        &self,
        scope: &TenantScope,
        request: CommandRequest,
    ) -> Result<CommandOutcome, StoreError> {
        let tenant = scope.tenant().clone();
        self.tenant_step(scope.tenant(), move |tx| apply_command(tx, tenant, request))
            .await
    }
    async fn head(&self, scope: &TenantScope) -> Result<Seq, StoreError> {
        self.tenant_read(scope.tenant(), |tx| Ok(tx.chain()?.0))
            .await
    }
    async fn heads(&self) -> Result<Vec<(TenantId, Seq)>, StoreError> {
        Backend::heads(self).await
    }
    async fn events_after(
        &self,
        scope: &TenantScope,
        after: Seq,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        self.tenant_read(scope.tenant(), move |tx| {
            Ok(tx
                .logged_after(after, limit)?
                .into_iter()
                .map(|e| e.event)
                .collect())
        })
        .await
    }
    async fn threads(&self, scope: &TenantScope) -> Result<Vec<ThreadView>, StoreError> {
        let mut threads = self.tenant_read(scope.tenant(), |tx| tx.threads()).await?;
        threads.sort_by(|a, b| {
            b.last_message_at
                .cmp(&a.last_message_at)
                .then(a.id.cmp(&b.id))
        });
        Ok(threads)
    }
    async fn thread(
        &self,
        scope: &TenantScope,
        id: &ThreadId,
    ) -> Result<Option<ThreadView>, StoreError> {
        let id = id.clone();
        self.tenant_read(scope.tenant(), move |tx| tx.thread(&id))
            .await
    }
    async fn messages(
        &self,
        scope: &TenantScope,
        thread: &ThreadId,
    ) -> Result<Vec<MessageView>, StoreError> {
        let thread = thread.clone();
        self.tenant_read(scope.tenant(), move |tx| tx.messages(&thread))
            .await
    }
    async fn message_by_mid(
        &self,
        scope: &TenantScope,
        mid: &str,
    ) -> Result<Option<MessageView>, StoreError> {
        let mid = mid.to_owned();
        self.tenant_read(scope.tenant(), move |tx| tx.message_by_mid(&mid))
            .await
    }
    async fn verify_audit(&self, scope: &TenantScope) -> Result<Verdict, StoreError> {
        self.tenant_read(scope.tenant(), |tx| verify(tx)).await
    }
    async fn audit_entries(
        &self,
        scope: &TenantScope,
        after: Seq,
        limit: usize,
    ) -> Result<Vec<audit::Entry>, StoreError> {
        self.tenant_read(scope.tenant(), move |tx| tx.logged_after(after, limit))
            .await
    }
    async fn propose_draft(
        &self,
        scope: &TenantScope,
        proposal: Proposal,
    ) -> Result<Vec<Event>, StoreError> {
        let tenant = scope.tenant().clone();
        self.tenant_step(scope.tenant(), move |tx| {
            propose_draft(tx, tenant, proposal)
        })
        .await
    }
    async fn knowledge(&self, scope: &TenantScope) -> Result<Option<String>, StoreError> {
        self.tenant_read(scope.tenant(), |tx| tx.knowledge()).await
    }
    async fn put_knowledge(&self, scope: &TenantScope, toml: &str) -> Result<(), StoreError> {
        let changes = Changes {
            knowledge: Some(toml.to_owned()),
            ..Changes::default()
        };
        self.tenant_step(scope.tenant(), move |tx| write_only(tx, changes))
            .await
    }
    async fn settings(&self, scope: &TenantScope) -> Result<TenantSettings, StoreError> {
        self.tenant_read(scope.tenant(), |tx| tx.settings()).await
    }
    async fn put_settings(
        &self,
        scope: &TenantScope,
        settings: &TenantSettings,
    ) -> Result<(), StoreError> {
        // A step, so commands (which read the settings inside theirs) see old or new whole.
        let changes = Changes {
            settings: Some(settings.clone()),
            ..Changes::default()
        };
        self.tenant_step(scope.tenant(), move |tx| write_only(tx, changes))
            .await
    }
    async fn canned(&self, scope: &TenantScope) -> Result<Vec<CannedReply>, StoreError> {
        let mut all = self.tenant_read(scope.tenant(), |tx| tx.canned()).await?;
        all.sort_by(|a, b| a.shortcut.cmp(&b.shortcut));
        Ok(all)
    }
    async fn put_canned(
        &self,
        scope: &TenantScope,
        reply: CannedReply,
    ) -> Result<bool, StoreError> {
        self.tenant_step(scope.tenant(), move |tx| {
            let created = !tx.canned()?.iter().any(|c| c.shortcut == reply.shortcut);
            write_only(
                tx,
                Changes {
                    canned: vec![CannedChange::Put(reply)],
                    ..Changes::default()
                },
            )?;
            Ok(created)
        })
        .await
    }
    async fn remove_canned(&self, scope: &TenantScope, shortcut: &str) -> Result<bool, StoreError> {
        let shortcut = shortcut.to_owned();
        self.tenant_step(scope.tenant(), move |tx| {
            if !tx.canned()?.iter().any(|c| c.shortcut == shortcut) {
                return Ok(false);
            }
            write_only(
                tx,
                Changes {
                    canned: vec![CannedChange::Remove(shortcut)],
                    ..Changes::default()
                },
            )?;
            Ok(true)
        })
        .await
    }
    async fn sends_of(
        &self,
        scope: &TenantScope,
        thread: &ThreadId,
    ) -> Result<Vec<SendView>, StoreError> {
        let thread = thread.clone();
        self.tenant_read(scope.tenant(), move |tx| tx.sends_of(&thread))
            .await
    }
    async fn unfinished_sends(&self, scope: &TenantScope) -> Result<Vec<SendView>, StoreError> {
        self.tenant_read(scope.tenant(), |tx| tx.unfinished_sends())
            .await
    }
    async fn credits(&self, scope: &TenantScope) -> Result<i64, StoreError> {
        self.tenant_read(scope.tenant(), |tx| tx.credits()).await
    }
    async fn add_credits(
        &self,
        scope: &TenantScope,
        add: i64,
        at: Millis,
    ) -> Result<(i64, Event), StoreError> {
        let tenant = scope.tenant().clone();
        self.tenant_step(scope.tenant(), move |tx| add_credits(tx, tenant, add, at))
            .await
    }
    async fn sync(&self) -> Result<(), StoreError> {
        Backend::sync(self).await
    }
    async fn close(&self) -> Result<(), StoreError> {
        Backend::close(self).await
    }
    async fn import_entries(
        &self,
        scope: &TenantScope,
        entries: Vec<audit::Entry>,
    ) -> Result<Seq, StoreError> {
        let tenant = scope.tenant().clone();
        self.tenant_step(scope.tenant(), move |tx| {
            let mut staged = Staged::new(tx, tenant);
            for entry in entries {
                staged.restore(entry)?;
            }
            let head = staged.chain()?.0;
            staged.finish(Changes::default())?;
            Ok(head)
        })
        .await
    }
    async fn take_lease(
        &self,
        job: &str,
        holder: &str,
        now: Millis,
        ttl_ms: i64,
    ) -> Result<Lease, StoreError> {
        Backend::take_lease(self, job, holder, now, ttl_ms).await
    }
    async fn release_lease(&self, job: &str, holder: &str) -> Result<(), StoreError> {
        Backend::release_lease(self, job, holder).await
    }
    async fn announce(&self, signal: &Signal) -> Result<(), StoreError> {
        Backend::announce(self, signal).await
    }
    fn watch(&self, notices: tokio::sync::mpsc::Sender<Notice>) -> Option<Watch> {
        Backend::watch(self, notices)
    }
}
