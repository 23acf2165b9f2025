//! `relay draft --knowledge FILE`: the dry run owners and operators use to try a knowledge
//! file before going live. Each input line is a JSON object `{"id", "text", "channel"}`;
//! each output line is `{"id", "draft", "handoff", "reason", "language", "facts", "verdict"}`
//! for it, in order. The same drafter, hand-off rules and safety classifier as `relay serve`
//! decide; nothing is stored and nothing leaves the machine, except that with a model
//! configured (`LLM_BASE_URL`) the model words the grounded reply as it would in `serve`.
//! The owner's order lookup hook is not called: a dry run answers orders only from the file.
//!
//! `verdict` is `pass` (the reply could be sent), `hold` (the classifier holds it for a
//! person; `reason` says why), `handoff` (a person must answer; `reason` says why) or
//! `error` (the input line is not such an object; `reason` says what is wrong).

use crate::draft::{Drafter, FactRef};
use crate::knowledge::Knowledge;
use crate::llm::{Grounded, Llm};
use crate::safety::{Cited, Classifier, Verdict};
use protocol::Channel;
use serde::Deserialize;
use serde_json::{Value, json};

/// One input line.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    id: Value,
    text: String,
    #[serde(default)]
    channel: Option<String>,
}

/// A knowledge file made ready to draft with.
pub struct DryRun {
    drafter: Drafter,
    classifier: Classifier,
}

impl DryRun {
    #[must_use]
    pub fn new(knowledge: &Knowledge) -> DryRun {
        DryRun {
            drafter: Drafter::new(knowledge),
            classifier: Classifier::new(knowledge),
        }
    }

    /// The output object for one input line (`line` counts from 1, for error messages).
    pub async fn answer(&self, line: usize, input: &str, llm: Option<&Llm>) -> Value {
        let input: Input = match serde_json::from_str(input) {
            Ok(i) => i,
            Err(e) => {
                let id = serde_json::from_str::<Value>(input)
                    .ok()
                    .and_then(|v| v.get("id").cloned())
                    .unwrap_or(Value::Null);
                return output(
                    &id,
                    None,
                    true,
                    &format!("input line {line}: {e}"),
                    "",
                    &[],
                    "error",
                );
            }
        };
        let channel = match input.channel.as_deref().map(str::trim) {
            None | Some("" | "instagram_dm" | "instagram") => Channel::InstagramDm,
            Some("instagram_comment" | "comment") => Channel::InstagramComment,
            Some("whatsapp") => Channel::WhatsApp,
            Some(other) => {
                return output(
                    &input.id,
                    None,
                    true,
                    &format!(
                        "input line {line}: channel `{other}` is not instagram_dm, \
                         instagram_comment or whatsapp"
                    ),
                    "",
                    &[],
                    "error",
                );
            }
        };
        let draft = self.drafter.draft(&input.text, &[]);
        let language = draft.language.code();
        let Some(grounded) = draft.text.clone() else {
            let reason = draft.handoff.unwrap_or_default();
            return output(&input.id, None, true, &reason, language, &[], "handoff");
        };
        let text = match llm {
            Some(llm) => {
                let basis = Grounded {
                    facts: &draft.facts,
                    text: &grounded,
                    language: draft.language,
                };
                let k = self.drafter.knowledge();
                llm.draft(k, basis, &[], &input.text)
                    .await
                    .unwrap_or(grounded)
            }
            None => grounded,
        };
        let verdict = self.classifier.check_cited(
            &text,
            &input.text,
            channel,
            &[],
            &Cited {
                facts: &draft.facts,
                looked_up: &[],
            },
        );
        match verdict {
            Verdict::Pass => output(
                &input.id,
                Some(&text),
                false,
                "",
                language,
                &draft.facts,
                "pass",
            ),
            Verdict::Hold(reasons) => {
                let why = reasons
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ");
                output(
                    &input.id,
                    Some(&text),
                    false,
                    &why,
                    language,
                    &draft.facts,
                    "hold",
                )
            }
        }
    }
}

fn output(
    id: &Value,
    draft: Option<&str>,
    handoff: bool,
    reason: &str,
    language: &str,
    facts: &[FactRef],
    verdict: &str,
) -> Value {
    json!({
        "id": id,
        "draft": draft,
        "handoff": handoff,
        "reason": if reason.is_empty() { Value::Null } else { Value::from(reason) },
        "language": language,
        "facts": facts.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "verdict": verdict,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const SHOP: &str = r#"
version = 2
[business]
name = "Rueda Libre"
currency = "USD"
languages = ["en", "es"]
other_languages = "handoff"
[[items]]
sku = "TUNE-1"
name = "Basic tune-up"
kind = "service"
price = 6500
duration_minutes = 60
[[orders]]
number = "R-1042"
kind = "repair"
status = "ready for pickup"
"#;

    async fn run(line: &str) -> Value {
        let k = Knowledge::from_toml(SHOP).unwrap();
        DryRun::new(&k).answer(1, line, None).await
    }

    #[tokio::test]
    async fn answers_hands_off_and_reports_bad_lines() {
        let v = run(r#"{"id": 1, "text": "how much is a basic tune-up?", "channel": "whatsapp"}"#)
            .await;
        assert_eq!(v["id"], 1);
        assert_eq!(v["verdict"], "pass");
        assert_eq!(v["handoff"], false);
        assert!(v["draft"].as_str().unwrap().contains("$65.00"), "{v}");
        assert_eq!(v["facts"][0], "sku:TUNE-1");
        assert_eq!(v["language"], "en");
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "draft", "facts", "handoff", "id", "language", "reason", "verdict"
            ]
        );

        let v = run(r#"{"id": "b", "text": "¿Ya está lista mi reparación R-1042?"}"#).await;
        assert_eq!(v["language"], "es");
        assert_eq!(v["facts"][0], "order:R-1042", "{v}");
        assert!(v["draft"].as_str().unwrap().contains("ready for pickup"));

        let v =
            run(r#"{"id": 3, "text": "Olá, vocês fazem revisão de bicicletas? Quanto custa?"}"#)
                .await;
        assert_eq!(v["handoff"], true, "{v}");
        assert_eq!(v["verdict"], "handoff");
        assert_eq!(v["language"], "pt");

        let v = run(r#"{"id": 4, "txt": "hi"}"#).await;
        assert_eq!(v["verdict"], "error");
        assert_eq!(v["id"], 4);
        assert!(v["reason"].as_str().unwrap().contains("input line 1"));
    }
}
