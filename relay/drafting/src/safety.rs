//! The safety classifier: runs on every draft (the built-in drafter's, a language model's,
//! a canned rule's or an agent's edit) before anything may be sent automatically, and
//! either passes it or holds it with the reasons, each naming the rule and the offending
//! span of the draft.
//!
//! Rules (issue 5):
//! - **Grounding.** Every amount of money, percentage, sku, URL or domain, phone number,
//!   e-mail address and date in the draft must appear in the tenant's knowledge or in the
//!   customer's own message (`extract` finds them, `ground` collects what may be said).
//! - **Channel limits.** Instagram text is at most 1000 *bytes* of UTF-8 (comment replies are
//!   held to the same); WhatsApp text at most 4096 characters.
//! - **No secrets** (`secrets`): tokens and keys by shape, long opaque blobs.
//! - **No other tenant's names** and **none of the tenant's blocked words** (`words`).
//! - **No open-domain answers** (`topic`): heuristic, documented there.
//!
//! It is pure: no IO, no clock, no network. It does not decide auto-send (credits, window
//! and the tenant's setting do) and does not rewrite drafts.

mod extract;
mod ground;
mod secrets;
mod topic;
mod words;

use crate::draft::text;
use crate::knowledge::{Knowledge, link};
use extract::Claim;
use ground::Grounds;
use protocol::Channel;
use std::collections::HashSet;
use std::fmt;
use std::ops::Range;

/// Instagram's text limit, in bytes of UTF-8 (meta-platform.md §6.2).
pub const INSTAGRAM_TEXT_BYTES: usize = 1000;
/// WhatsApp's text body limit, in characters (meta-platform.md §13.2).
pub const WHATSAPP_TEXT_CHARS: usize = 4096;

/// The classifier's decision.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Verdict {
    Pass,
    Hold(Vec<Reason>),
}

impl Verdict {
    #[must_use]
    pub fn is_pass(&self) -> bool {
        matches!(self, Verdict::Pass)
    }

    #[must_use]
    pub fn reasons(&self) -> &[Reason] {
        match self {
            Verdict::Pass => &[],
            Verdict::Hold(r) => r,
        }
    }
}

/// Which rule a draft broke.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Rule {
    UngroundedAmount,
    UngroundedSku,
    UngroundedLink,
    UngroundedPhone,
    UngroundedEmail,
    UngroundedDate,
    TooLong,
    Secret,
    OtherTenant,
    BlockedWord,
    OffDomain,
}

impl Rule {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::UngroundedAmount => "ungrounded_amount",
            Rule::UngroundedSku => "ungrounded_sku",
            Rule::UngroundedLink => "ungrounded_link",
            Rule::UngroundedPhone => "ungrounded_phone",
            Rule::UngroundedEmail => "ungrounded_email",
            Rule::UngroundedDate => "ungrounded_date",
            Rule::TooLong => "too_long",
            Rule::Secret => "secret",
            Rule::OtherTenant => "other_tenant",
            Rule::BlockedWord => "blocked_word",
            Rule::OffDomain => "off_domain",
        }
    }

    /// Whether the rule is about a claim not grounded in the knowledge or the message.
    #[must_use]
    pub fn is_grounding(self) -> bool {
        matches!(
            self,
            Rule::UngroundedAmount
                | Rule::UngroundedSku
                | Rule::UngroundedLink
                | Rule::UngroundedPhone
                | Rule::UngroundedEmail
                | Rule::UngroundedDate
        )
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The part of the draft a reason is about.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Span {
    /// Byte range into the draft.
    pub range: Range<usize>,
    pub text: String,
}

/// One broken rule and where.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Reason {
    pub rule: Rule,
    pub span: Span,
    /// A sentence for the agent.
    pub detail: String,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at {}..{} `{}`: {}",
            self.rule, self.span.range.start, self.span.range.end, self.span.text, self.detail
        )
    }
}

/// What a draft cites, for [`Classifier::check_cited`].
#[derive(Default, Clone, Copy)]
pub struct Cited<'a> {
    pub facts: &'a [crate::draft::FactRef],
    /// Texts looked up for this message (an order's status, eta and note).
    pub looked_up: &'a [String],
}

/// The knowledge-side work of classification, done once per knowledge version.
pub struct Classifier {
    k: Knowledge,
    grounds: Grounds,
    vocab: HashSet<String>,
}

impl Classifier {
    #[must_use]
    pub fn new(k: &Knowledge) -> Classifier {
        let mut vocab: HashSet<String> = HashSet::new();
        let mut add = |s: &str| vocab.extend(text::stems(s));
        add(&k.business.name);
        for s in [&k.business.address, &k.business.hours_note]
            .into_iter()
            .flatten()
        {
            add(s);
        }
        for r in &k.business.shipping_regions {
            add(&r.name);
            r.places.iter().for_each(|p| add(p));
        }
        for i in &k.items {
            add(&i.name);
            add(&i.description);
            i.aliases.iter().for_each(|a| add(a));
            if let Some(c) = &i.category {
                add(c);
            }
            for (key, v) in &i.details {
                add(key);
                add(v);
            }
            i.variants.iter().for_each(|v| add(&v.label()));
        }
        for p in &k.policies {
            add(&p.title);
            add(&p.text);
        }
        for s in [&k.persona.greeting, &k.persona.sign_off]
            .into_iter()
            .flatten()
        {
            add(s);
        }
        // v2: translations, orders, closures, and the phrases every language builds with.
        for i in &k.items {
            i.descriptions.values().for_each(|d| add(d));
        }
        for p in &k.policies {
            for (title, text) in p.translations.values() {
                add(title);
                add(text);
            }
        }
        for o in &k.orders {
            add(&o.status);
            o.note.iter().for_each(|n| add(n));
        }
        for c in &k.business.closures {
            c.note.iter().for_each(|n| add(n));
        }
        crate::lang::registry().phrase_texts().for_each(&mut add);
        Classifier {
            grounds: Grounds::knowledge(k),
            k: k.clone(),
            vocab,
        }
    }

    /// Classifies `draft`, a reply to `customer_message` on `channel`.
    #[must_use]
    pub fn check(
        &self,
        draft: &str,
        customer_message: &str,
        channel: Channel,
        other_tenant_names: &[String],
    ) -> Verdict {
        self.check_cited(
            draft,
            customer_message,
            channel,
            other_tenant_names,
            &Cited::default(),
        )
    }

    /// [`Classifier::check`] for a draft that says which facts it states: every amount must
    /// belong to one of them (the item asked about, not any item of the file), and values
    /// looked up for this message (an order's status) ground claims too.
    #[must_use]
    pub fn check_cited(
        &self,
        draft: &str,
        customer_message: &str,
        channel: Channel,
        other_tenant_names: &[String],
        cited: &Cited<'_>,
    ) -> Verdict {
        let mut reasons = Vec::new();
        let mut said = Grounds::message(customer_message);
        for t in cited.looked_up {
            said.add_text(t);
        }
        self.grounding(draft, &said, &mut reasons);
        if !cited.facts.is_empty() {
            let scoped = Grounds::facts(&self.k, cited.facts);
            for f in extract::claims(draft) {
                let amount = matches!(f.claim, Claim::Amount(_));
                if amount
                    && self.grounds.grounds(&f.claim)
                    && !scoped.grounds(&f.claim)
                    && !said.grounds(&f.claim)
                {
                    reasons.push(reason(
                        draft,
                        Rule::UngroundedAmount,
                        f.range,
                        "this amount belongs to something the draft does not cite".into(),
                    ));
                }
            }
        }
        self.links(draft, &said, &mut reasons);
        limits(draft, channel, &mut reasons);
        for r in secrets::find(draft) {
            reasons.push(reason(
                draft,
                Rule::Secret,
                r,
                "looks like a token or key".into(),
            ));
        }
        for name in other_tenant_names {
            let n = name.trim();
            if n.chars().count() < 3 || n.eq_ignore_ascii_case(&self.k.business.name) {
                continue;
            }
            for r in words::find(draft, n) {
                reasons.push(reason(
                    draft,
                    Rule::OtherTenant,
                    r,
                    "names another business served by this relay".into(),
                ));
            }
        }
        for w in &self.k.blocked_words {
            for r in words::find(draft, w) {
                reasons.push(reason(
                    draft,
                    Rule::BlockedWord,
                    r,
                    "a word this business blocked".into(),
                ));
            }
        }
        for (r, word) in topic::topic_words(draft, &self.vocab) {
            reasons.push(reason(
                draft,
                Rule::OffDomain,
                r,
                format!("`{word}` is an off-domain topic"),
            ));
        }
        let (share, n) = topic::coverage(draft, &self.vocab, customer_message);
        if n >= topic::MIN_CONTENT_WORDS && share < topic::MIN_COVERAGE {
            reasons.push(reason(
                draft,
                Rule::OffDomain,
                0..draft.len(),
                format!(
                    "only {:.0}% of its content words are in the knowledge or the message",
                    share * 100.0
                ),
            ));
        }
        reasons.sort_by_key(|r| (r.span.range.start, r.rule.as_str()));
        if reasons.is_empty() {
            Verdict::Pass
        } else {
            Verdict::Hold(reasons)
        }
    }

    fn grounding(&self, draft: &str, said: &Grounds, reasons: &mut Vec<Reason>) {
        for f in extract::claims(draft) {
            if self.grounds.grounds(&f.claim) || said.grounds(&f.claim) {
                continue;
            }
            let (rule, what) = match f.claim {
                Claim::Amount(_) => (Rule::UngroundedAmount, "this amount"),
                Claim::Percent(_) => (Rule::UngroundedAmount, "this percentage"),
                Claim::Sku(_) => (Rule::UngroundedSku, "this sku"),
                Claim::Phone(_) => (Rule::UngroundedPhone, "this phone number"),
                Claim::Email(_) => (Rule::UngroundedEmail, "this e-mail address"),
                Claim::Date(_) => (Rule::UngroundedDate, "this date"),
            };
            reasons.push(reason(
                draft,
                rule,
                f.range,
                format!("{what} is not in the knowledge or the customer's message"),
            ));
        }
    }

    fn links(&self, draft: &str, said: &Grounds, reasons: &mut Vec<Reason>) {
        for l in link::find_links(draft) {
            if link::domain_allowed(&l.host, &self.k.allowed_domains)
                || said.hosts.contains(&l.host)
            {
                continue;
            }
            reasons.push(reason(
                draft,
                Rule::UngroundedLink,
                l.range,
                format!("`{}` is not one of the allowed link domains", l.host),
            ));
        }
    }
}

fn limits(draft: &str, channel: Channel, reasons: &mut Vec<Reason>) {
    let over = match channel {
        Channel::InstagramDm | Channel::InstagramComment => (draft.len() > INSTAGRAM_TEXT_BYTES)
            .then(|| {
                let mut cut = INSTAGRAM_TEXT_BYTES;
                while !draft.is_char_boundary(cut) {
                    cut -= 1;
                }
                (
                    cut,
                    format!(
                        "{} bytes; Instagram allows {INSTAGRAM_TEXT_BYTES} bytes of UTF-8",
                        draft.len()
                    ),
                )
            }),
        Channel::WhatsApp => {
            let chars = draft.chars().count();
            (chars > WHATSAPP_TEXT_CHARS).then(|| {
                let cut = draft
                    .char_indices()
                    .nth(WHATSAPP_TEXT_CHARS)
                    .map_or(draft.len(), |(b, _)| b);
                (
                    cut,
                    format!("{chars} characters; WhatsApp allows {WHATSAPP_TEXT_CHARS}"),
                )
            })
        }
    };
    if let Some((cut, detail)) = over {
        reasons.push(reason(draft, Rule::TooLong, cut..draft.len(), detail));
    }
}

fn reason(draft: &str, rule: Rule, range: Range<usize>, detail: String) -> Reason {
    let text = draft.get(range.clone()).unwrap_or_default().to_string();
    Reason {
        rule,
        span: Span { range, text },
        detail,
    }
}

/// Classifies one draft. Builds the knowledge side each call; use [`Classifier`] to reuse it.
#[must_use]
pub fn classify(
    draft_text: &str,
    knowledge: &Knowledge,
    customer_message: &str,
    channel: Channel,
    other_tenant_names: &[String],
) -> Verdict {
    Classifier::new(knowledge).check(draft_text, customer_message, channel, other_tenant_names)
}

#[cfg(test)]
mod tests;
