//! Sets up the demo's partner, tenant, people, channels, knowledge, settings and credits by
//! calling the relay's own admin API over loopback with the operator token — the same
//! handlers an operator's `relay admin …` reaches, so the demo gets their validation,
//! token hashing, access-token sealing, durability and desk fan-out without a second copy.

use super::DemoError;
use crate::secret::Secret;
use crate::simulate::accounts::AccountSpec;
use reqwest::Method;
use serde_json::{Value, json};

/// Who and what the demo tenant is.
pub const PARTNER_NAME: &str = "Nusantara Digital";
pub const PARTNER_BRAND: &str = "Nusantara Desk";
pub const TENANT_NAME: &str = "Sari Batik";
pub const OWNER_NAME: &str = "Ayu (owner)";
pub const AGENT_NAME: &str = "Rizky";
pub const VIEWER_NAME: &str = "Nusantara Digital (viewer)";
/// Enough for a long demo: one credit per reply sent.
pub const CREDITS: i64 = 500;

/// What provisioning made. The tokens are shown once by the admin API; they go to files
/// and are never printed.
pub struct Provisioned {
    pub partner: String,
    pub tenant: String,
    pub owner_token: Secret,
    pub agent_token: Secret,
    pub viewer_token: Secret,
}

/// The admin API of the relay at `base`, as the operator.
struct Admin {
    http: reqwest::Client,
    base: String,
    operator: Secret,
}

enum Body<'a> {
    Json(Value),
    Toml(&'a str),
}

impl Admin {
    /// One call that must answer `expected`; answers its JSON. Errors name the call and the
    /// relay's error code and message (which never carry secrets), never the request body.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Body<'_>,
        expected: u16,
    ) -> Result<Value, DemoError> {
        let what = format!("{method} {path}");
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(self.operator.expose());
        request = match body {
            Body::Json(v) => request.json(&v),
            Body::Toml(text) => request
                .header("content-type", "application/toml")
                .body(text.to_owned()),
        };
        let response = request.send().await.map_err(|e| DemoError::Provision {
            call: what.clone(),
            reason: e.to_string(),
        })?;
        let status = response.status().as_u16();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        if status != expected {
            let code = value["error"]["code"].as_str().unwrap_or("error");
            let message = value["error"]["message"].as_str().unwrap_or("no details");
            return Err(DemoError::Provision {
                call: what,
                reason: format!("answered {status}: {code}: {message}"),
            });
        }
        Ok(value)
    }

    async fn field(
        &self,
        path: &str,
        body: Value,
        name: &'static str,
    ) -> Result<String, DemoError> {
        let answer = self.call(Method::POST, path, Body::Json(body), 201).await?;
        answer[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| DemoError::Provision {
                call: format!("POST {path}"),
                reason: format!("the answer has no `{name}`"),
            })
    }
}

/// Provisions the demo on the relay at `base`: a partner with its brand and a viewer, the
/// tenant with an owner and an agent, one channel per scenario account (so the simulator
/// and the relay agree on ids, login kind and tokens), the knowledge file, auto-send off
/// (the newcomer approves each draft) and credits.
///
/// # Errors
/// A call fails; the error names it.
pub async fn provision(
    base: &str,
    operator: Secret,
    accounts: &[AccountSpec],
    knowledge: &str,
) -> Result<Provisioned, DemoError> {
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| DemoError::Provision {
            call: "HTTP client".into(),
            reason: e.to_string(),
        })?;
    let admin = Admin {
        http,
        base: base.to_owned(),
        operator,
    };
    let partner = admin
        .field(
            "/v1/partners",
            json!({"name": PARTNER_NAME, "brand": PARTNER_BRAND}),
            "id",
        )
        .await?;
    let tenant = admin
        .field(
            &format!("/v1/partners/{partner}/tenants"),
            json!({"name": TENANT_NAME}),
            "id",
        )
        .await?;
    let viewer_token = admin
        .field(
            &format!("/v1/partners/{partner}/viewers"),
            json!({"name": VIEWER_NAME}),
            "token",
        )
        .await?;
    let agents = format!("/v1/tenants/{tenant}/agents");
    let owner_token = admin
        .field(
            &agents,
            json!({"name": OWNER_NAME, "role": "owner"}),
            "token",
        )
        .await?;
    let agent_token = admin
        .field(
            &agents,
            json!({"name": AGENT_NAME, "role": "agent"}),
            "token",
        )
        .await?;
    let channels = format!("/v1/tenants/{tenant}/channels");
    for account in accounts {
        admin.field(&channels, channel(account), "id").await?;
    }
    admin
        .call(
            Method::PUT,
            &format!("/v1/tenants/{tenant}/knowledge"),
            Body::Toml(knowledge),
            200,
        )
        .await?;
    admin
        .call(
            Method::PUT,
            &format!("/v1/tenants/{tenant}/settings"),
            Body::Json(json!({"auto_send": false})),
            200,
        )
        .await?;
    // One canned reply, so `/thanks` + Tab in the composer shows the feature at once.
    admin
        .call(
            Method::PUT,
            &format!("/v1/tenants/{tenant}/canned/thanks"),
            Body::Json(json!({
                "title": "Thank the customer",
                "text": "Terima kasih {{customer.name}}, pesanan kakak kami proses ya 🙏 — {{business.name}}",
            })),
            201,
        )
        .await?;
    admin
        .call(
            Method::POST,
            &format!("/v1/tenants/{tenant}/credits"),
            Body::Json(json!({"add": CREDITS})),
            200,
        )
        .await?;
    Ok(Provisioned {
        partner,
        tenant,
        owner_token: Secret::new(owner_token),
        agent_token: Secret::new(agent_token),
        viewer_token: Secret::new(viewer_token),
    })
}

/// The channel matching a simulator account: an Instagram-Login account has no page (the
/// relay then calls the Instagram Graph host by IG id, as the simulator expects), a
/// Facebook-Login one keeps its page; the account's token is the channel's access token.
fn channel(account: &AccountSpec) -> Value {
    match account {
        AccountSpec::Instagram(a) => json!({
            "kind": "instagram",
            "account_id": a.ig_id,
            "page_id": a.page_id,
            "username": a.username,
            "access_token": a.token,
        }),
        AccountSpec::WhatsApp(n) => json!({
            "kind": "whatsapp",
            "phone_number_id": n.phone_number_id,
            "waba_id": n.waba_id,
            "access_token": n.token,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instagram_login_account_becomes_a_channel_without_a_page() {
        let spec: AccountSpec = serde_json::from_value(json!({
            "kind": "instagram", "ig_id": "178", "username": "shop", "token": "t",
            "login": "instagram"
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let c = channel(&spec);
        assert_eq!(c["page_id"], Value::Null);
        assert_eq!(c["account_id"], "178");
        assert_eq!(c["access_token"], "t");
    }
}
