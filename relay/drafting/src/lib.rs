//! Drafting: what a tenant's knowledge file holds (`knowledge`), the customer's language and
//! the phrase files (`lang`), the grounded drafter (`draft`), owner reply rules (`rules`), the
//! safety classifier (`safety`) and the optional OpenAI-compatible model call (`llm`, the only
//! IO here). The relay's `drafting` engine runs it on events; `relay draft` and `draft-eval`
//! run it alone.

pub mod draft;
pub mod knowledge;
pub mod lang;
pub mod llm;
pub mod rules;
pub mod safety;
