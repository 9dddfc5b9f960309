//! The walk: making B's calls and recording what went wrong.

use super::*;

/// Which credentials an operation is called with.
fn credentials_for(template: &str) -> &'static [Credential] {
    if template.contains("/xapi/") {
        &[Credential::Jwt, Credential::ApiKeyBearer, Credential::ApiKeyBasic]
    } else {
        &[Credential::Jwt, Credential::ApiKeyBearer]
    }
}

/// The walk: B's calls, what B has sent so far, and what went wrong.
pub(super) struct Walk<'a> {
    pub(super) app: &'a TestApp,
    pub(super) alpha: &'a Alpha,
    pub(super) beta: &'a Tenant,
    pub(super) needles: Vec<(&'static str, String)>,
    /// Everything B has sent: A's identifiers B named itself are no news to it.
    pub(super) known: String,
    /// A's view of its data after the last write.
    pub(super) baseline: View,
    pub(super) violations: Vec<String>,
}

impl Walk<'_> {
    /// Makes every call with every credential; after a write, re-reads A's data.
    pub(super) async fn operation(&mut self, op: &Operation, calls: &[Call]) {
        for call in calls {
            for &how in credentials_for(&op.template) {
                self.call(op, call, how).await;
            }
        }
        if op.method != Method::GET {
            let now = alpha_view(self.app, self.alpha).await;
            for change in changes(&self.baseline, &now) {
                self.violations.push(format!("{} {} (B's calls): A's {change}", op.method, op.template));
            }
            self.baseline = now;
        }
    }

    async fn call(&mut self, op: &Operation, call: &Call, how: Credential) {
        let res =
            send(self.app, self.beta, how, call.method.clone(), &call.path, &call.query, call.body.as_ref()).await;
        self.known.push_str(&call.sent());
        let mut wrong = vec![];
        if res.status >= 500 {
            wrong.push("a server error".to_owned());
        }
        if let Some(why) = call.must_refuse
            && !REFUSALS.contains(&res.status)
        {
            wrong.push(format!("not refused, although {why}"));
        }
        if let Some(why) = call.must_succeed
            && !(200u16..300).contains(&res.status)
        {
            wrong.push(format!("refused, although {why}"));
        }
        let revealed: Vec<&str> = self
            .needles
            .iter()
            .filter(|(_, value)| {
                (res.body.contains(value.as_str()) || res.headers.contains(value.as_str()))
                    && !self.known.contains(value.as_str())
            })
            .map(|(what, _)| *what)
            .collect();
        if !revealed.is_empty() {
            wrong.push(format!("reveals A's {}", revealed.join(", ")));
        }
        if !wrong.is_empty() {
            self.violations.push(format!(
                "{} {} with B's {how} ({}): {} {} → {}: {}; body: {}",
                op.method,
                op.template,
                call.aim,
                call.method,
                call.target(),
                res.status,
                wrong.join("; "),
                snippet(&res.body)
            ));
        }
    }
}
