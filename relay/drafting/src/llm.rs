//! The optional OpenAI-compatible drafting backend (`LLM_BASE_URL`, `LLM_MODEL`,
//! `LLM_API_KEY`): the tenant's persona as the system prompt, the facts the grounded drafter
//! retrieved as the only context, and the conversation so far.
//!
//! It never decides *whether* to answer: the grounded drafter's retrieval, language choice
//! and hand-off rules run first (health, legal, complaints, unknown products, half-answerable
//! messages never reach the model), the model is given the grounded draft as the answer to
//! reword in the customer's language, and its text goes through the same safety classifier
//! as every draft, with amounts checked against the facts the grounded draft cited.
//! Any failure (timeout, error status, empty answer) is reported so the caller falls back to
//! the grounded draft and says so.

use crate::draft::{FactRef, Speaker, Turn};
use crate::knowledge::Knowledge;
use crate::lang::Language;
use chatdesk_base::secret::Secret;
use serde_json::{Value, json};
use std::time::Duration;

/// How long one completion may take before the grounded draft is used instead.
pub const TIMEOUT: Duration = Duration::from_secs(8);

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("the model did not answer in time")]
    Timeout,
    #[error("the model endpoint could not be reached")]
    Unreachable,
    #[error("the model endpoint answered {0}")]
    Status(u16),
    #[error("the model's answer had no text")]
    Empty,
}

/// What the grounded drafter found for a message: the model words this and nothing else.
#[derive(Clone, Copy)]
pub struct Grounded<'a> {
    pub facts: &'a [FactRef],
    /// The grounded drafter's own reply.
    pub text: &'a str,
    /// The language to answer in.
    pub language: Language,
}

pub struct Llm {
    http: reqwest::Client,
    url: String,
    model: String,
    key: Option<Secret>,
}

impl Llm {
    /// # Errors
    /// The HTTP client cannot be built.
    pub fn new(base: &str, model: &str, key: Option<Secret>) -> reqwest::Result<Llm> {
        Ok(Llm {
            http: reqwest::Client::builder().timeout(TIMEOUT).build()?,
            url: format!("{}/chat/completions", base.trim_end_matches('/')),
            model: model.to_owned(),
            key,
        })
    }

    /// A reply to `message`, written from `facts` only.
    ///
    /// # Errors
    /// See [`LlmError`]; the caller falls back to the grounded draft.
    pub async fn draft(
        &self,
        knowledge: &Knowledge,
        grounded: Grounded<'_>,
        turns: &[Turn],
        message: &str,
    ) -> Result<String, LlmError> {
        self.draft_with(knowledge, grounded, turns, message, None)
            .await
    }

    /// [`Llm::draft`] with a reply rule's own instruction added to the system prompt.
    ///
    /// # Errors
    /// See [`LlmError`].
    pub async fn draft_with(
        &self,
        knowledge: &Knowledge,
        grounded: Grounded<'_>,
        turns: &[Turn],
        message: &str,
        instruction: Option<&str>,
    ) -> Result<String, LlmError> {
        let mut system = system_prompt(knowledge, grounded);
        if let Some(instruction) = instruction {
            system.push_str("\n\nFor this message: ");
            system.push_str(instruction);
        }
        let mut messages = vec![json!({"role": "system", "content": system})];
        for turn in turns {
            let role = match turn.from {
                Speaker::Customer => "user",
                Speaker::Business => "assistant",
            };
            messages.push(json!({"role": role, "content": turn.text}));
        }
        messages.push(json!({"role": "user", "content": message}));
        let body = json!({
            "model": self.model,
            "messages": messages,
            "temperature": 0.2,
            "max_tokens": 300,
        });
        let mut request = self.http.post(&self.url).json(&body);
        if let Some(key) = &self.key {
            request = request.bearer_auth(key.expose());
        }
        let response = request.send().await.map_err(|e| {
            if e.is_timeout() {
                LlmError::Timeout
            } else {
                LlmError::Unreachable
            }
        })?;
        let status = response.status().as_u16();
        if status >= 300 {
            return Err(LlmError::Status(status));
        }
        let answer: Value = response.json().await.map_err(|e| {
            if e.is_timeout() {
                LlmError::Timeout
            } else {
                LlmError::Empty
            }
        })?;
        answer["choices"][0]["message"]["content"]
            .as_str()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .ok_or(LlmError::Empty)
    }
}

/// The persona, the rules of grounding, the reply language, the grounded answer and the
/// retrieved facts, nothing else.
fn system_prompt(knowledge: &Knowledge, grounded: Grounded<'_>) -> String {
    let mut out = knowledge.persona.system_prompt(&knowledge.business.name);
    out.push_str(&format!(
        "\nAnswer in {} ({}). Answer only from the facts below. Never invent prices, \
         discounts, stock, dates, links or phone numbers; copy every amount, date and link \
         exactly as written. Keep it short.\n\nThe answer to word: {}\n\nFacts:",
        grounded.language.file().name,
        grounded.language.code(),
        grounded.text
    ));
    for fact in grounded.facts {
        match fact {
            FactRef::Item { sku } => {
                if let Some(item) = knowledge.item(sku) {
                    let stock = item
                        .total_stock()
                        .map_or_else(|| "made to order".to_owned(), |n| format!("{n} in stock"));
                    out.push_str(&format!(
                        "\n- {} ({}): {}; {stock}. {}",
                        item.name, item.sku, item.price, item.description
                    ));
                }
            }
            FactRef::Policy { key } => {
                if let Some(policy) = knowledge.policy(key) {
                    out.push_str(&format!("\n- {}: {}", policy.title, policy.text));
                }
            }
            FactRef::Business { .. } | FactRef::Order { .. } => {}
        }
    }
    out
}
