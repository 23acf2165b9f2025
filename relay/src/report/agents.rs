//! The owner report's per-agent figures, folded alongside the tenant's (`super::Tally`):
//! for each person (and the drafter's automation), the replies of theirs that reached
//! `Sent`, their first responses (the clock of `super`'s first-response definition, stopped
//! by one of their sends) and their resolutions.
//!
//! **Resolution time**: per thread, the clock starts at a customer message while the thread
//! is not already open and waiting for a resolution (so the first message after a
//! resolution, or a reopen, starts it) and stops when a person resolves the thread: one
//! sample for that person, in the period by its stop time. Medians as in `super`.
//!
//! Only ids, counts and durations leave it; the owner's route adds the agents' names.

use super::{DAYS, FirstResponse, day_of};
use protocol::{AgentId, Millis, ThreadId};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// One agent's figures over the period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AgentFigures {
    pub agent: AgentId,
    pub replies: u64,
    pub first_response_ms: FirstResponse,
    pub resolved: u64,
    pub resolution_ms: FirstResponse,
}

#[derive(Debug, Default)]
struct Samples {
    replies: u64,
    first_response: Vec<i64>,
    resolution: Vec<i64>,
}

/// The per-agent part of the fold.
#[derive(Debug)]
pub struct AgentTally {
    first_day: i64,
    agents: BTreeMap<AgentId, Samples>,
    /// Per thread, since when it has been open and not yet resolved.
    open_since: HashMap<ThreadId, Millis>,
}

fn median(mut samples: Vec<i64>) -> FirstResponse {
    samples.sort_unstable();
    FirstResponse {
        median: match samples.len() {
            0 => None,
            n => Some(samples[(n - 1) / 2]),
        },
        samples: samples.len() as u64,
    }
}

impl AgentTally {
    #[must_use]
    pub fn new(first_day: i64) -> AgentTally {
        AgentTally {
            first_day,
            agents: BTreeMap::new(),
            open_since: HashMap::new(),
        }
    }

    fn in_period(&self, at: Millis) -> bool {
        (self.first_day..self.first_day + DAYS as i64).contains(&day_of(at))
    }

    /// A customer message on `thread` at `at`.
    pub fn customer_wrote(&mut self, thread: &ThreadId, at: Millis) {
        self.open_since.entry(thread.clone()).or_insert(at);
    }

    /// `agent`'s reply reached `Sent` at `at`; `waited` is the first-response sample it
    /// stopped, if it stopped one.
    pub fn sent(&mut self, agent: &AgentId, at: Millis, waited: Option<i64>) {
        if !self.in_period(at) {
            return;
        }
        let a = self.agents.entry(agent.clone()).or_default();
        a.replies += 1;
        a.first_response.extend(waited);
    }

    /// `agent` resolved `thread` at `at`.
    pub fn resolved(&mut self, agent: &AgentId, thread: &ThreadId, at: Millis) {
        let Some(since) = self.open_since.remove(thread) else {
            return;
        };
        if self.in_period(at) {
            let a = self.agents.entry(agent.clone()).or_default();
            a.resolution.push(since.until(at).max(0));
        }
    }

    /// `thread` was reopened at `at`: the clock runs again from there.
    pub fn reopened(&mut self, thread: &ThreadId, at: Millis) {
        self.open_since.entry(thread.clone()).or_insert(at);
    }

    /// Every agent with anything in the period, by id.
    #[must_use]
    pub fn finish(self) -> Vec<AgentFigures> {
        self.agents
            .into_iter()
            .map(|(agent, s)| AgentFigures {
                agent,
                replies: s.replies,
                resolved: s.resolution.len() as u64,
                first_response_ms: median(s.first_response),
                resolution_ms: median(s.resolution),
            })
            .collect()
    }
}
