//! The places an alert can go: Telegram (Bot API sendMessage), a Slack incoming webhook and
//! email over SMTP (lettre; STARTTLS by default). Each is one blocking `send` with the
//! configured timeout; the alert thread gives each channel its own worker, so one that hangs
//! delays only itself. Error texts pass through `redact` so a token in a URL never reaches
//! the log.

use crate::config::operator::AlertsConfig;
use crate::config::AlertSecrets;
use crate::telemetry::alerts::AlertKind;
use std::time::Duration;

/// One alert destination.
pub trait AlertChannel: Send {
    fn name(&self) -> &'static str;
    /// Delivers one message, or says why not (secrets already removed).
    fn send(&self, text: &str) -> Result<(), String>;
}

/// A channel and the events it takes.
pub struct Configured {
    pub channel: Box<dyn AlertChannel>,
    pub events: Vec<AlertKind>,
}

/// What the config and `.env` give: the channels that can send, and for each one that
/// cannot, why (for `aitrapp alert-test` and the start line).
pub struct Channels {
    pub ready: Vec<Configured>,
    pub off: Vec<(&'static str, String)>,
}

fn kinds(names: &[String]) -> Vec<AlertKind> {
    names.iter().filter_map(|n| AlertKind::parse(n)).collect()
}

/// Replaces every secret in `text` with `<redacted>`.
fn redact(text: String, secrets: &[&str]) -> String {
    secrets
        .iter()
        .filter(|s| s.len() >= 4)
        .fold(text, |t, s| t.replace(s, "<redacted>"))
}

/// Posts a JSON body; any answer but 2xx is a failure with its status and a short body.
fn post_json(agent: &ureq::Agent, url: &str, body: &serde_json::Value) -> Result<(), String> {
    match agent
        .post(url)
        .header("Content-Type", "application/json")
        .send(body.to_string())
    {
        Ok(mut r) if r.status().is_success() => {
            let _ = r.body_mut().read_to_string();
            Ok(())
        }
        Ok(mut r) => {
            let status = r.status().as_u16();
            let text = r
                .body_mut()
                .read_to_string()
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect::<String>();
            Err(format!("HTTP {status}: {text}"))
        }
        Err(e) => Err(e.to_string()),
    }
}

pub struct Telegram {
    url: String,
    chat_id: String,
    token: String,
    agent: ureq::Agent,
}

impl AlertChannel for Telegram {
    fn name(&self) -> &'static str {
        "telegram"
    }
    fn send(&self, text: &str) -> Result<(), String> {
        let body = serde_json::json!({"chat_id": self.chat_id, "text": text, "disable_web_page_preview": true});
        post_json(&self.agent, &self.url, &body)
            .map_err(|e| redact(e, &[&self.token, &self.chat_id]))
    }
}

pub struct Slack {
    webhook: String,
    agent: ureq::Agent,
}

impl AlertChannel for Slack {
    fn name(&self) -> &'static str {
        "slack"
    }
    fn send(&self, text: &str) -> Result<(), String> {
        post_json(
            &self.agent,
            &self.webhook,
            &serde_json::json!({ "text": text }),
        )
        .map_err(|e| redact(e, &[&self.webhook]))
    }
}

pub struct Email {
    transport: lettre::SmtpTransport,
    from: lettre::message::Mailbox,
    to: Vec<lettre::message::Mailbox>,
    password: String,
}

impl AlertChannel for Email {
    fn name(&self) -> &'static str {
        "email"
    }
    fn send(&self, text: &str) -> Result<(), String> {
        use lettre::Transport;
        let subject: String = text.chars().take(120).collect();
        let mut b = lettre::Message::builder()
            .from(self.from.clone())
            .subject(format!("aitrapp: {subject}"));
        for to in &self.to {
            b = b.to(to.clone());
        }
        let msg = b
            .body(text.to_string())
            .map_err(|e| format!("cannot build the message: {e}"))?;
        self.transport
            .send(&msg)
            .map(|_| ())
            .map_err(|e| redact(e.to_string(), &[&self.password]))
    }
}

fn email(cfg: &AlertsConfig, env: &AlertSecrets, base: &std::path::Path) -> Result<Email, String> {
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
    let host = env.get("SMTP_HOST").ok_or("SMTP_HOST is not set")?;
    let from = env.get("SMTP_FROM").ok_or("SMTP_FROM is not set")?;
    let to = env.get("SMTP_TO").ok_or("SMTP_TO is not set")?;
    let security = cfg.email.security.as_str();
    let port = match env.get("SMTP_PORT") {
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| format!("SMTP_PORT must be a port number (got `{p}`)"))?,
        None if security == "tls" => 465,
        None if security == "none" => 25,
        None => 587,
    };
    if security == "none" && !crate::control::is_loopback(host) {
        return Err(format!(
            "alerts.email.security none sends the password in clear: only for a relay on this machine (SMTP_HOST is {host})"
        ));
    }
    let tls = |host: &str| -> Result<TlsParameters, String> {
        let mut b = TlsParameters::builder(host.to_string());
        if let Some(ca) = &cfg.email.ca_file {
            let path = base.join(ca);
            let pem = std::fs::read(&path)
                .map_err(|e| format!("alerts.email.ca_file {}: {e}", path.display()))?;
            let cert = Certificate::from_pem(&pem)
                .map_err(|e| format!("alerts.email.ca_file {}: {e}", path.display()))?;
            b = b.add_root_certificate(cert);
        }
        b.build().map_err(|e| format!("TLS setup for {host}: {e}"))
    };
    let mode = match security {
        "tls" => Tls::Wrapper(tls(host)?),
        "none" => Tls::None,
        _ => Tls::Required(tls(host)?),
    };
    let mut t = lettre::SmtpTransport::builder_dangerous(host)
        .port(port)
        .tls(mode)
        .timeout(Some(Duration::from_millis(cfg.timeout_ms.max(1))));
    let password = env.get("SMTP_PASSWORD").unwrap_or("").to_string();
    if let Some(user) = env.get("SMTP_USERNAME") {
        t = t.credentials(Credentials::new(user.to_string(), password.clone()));
    }
    let mailbox = |what: &str, s: &str| {
        s.trim()
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| format!("{what} `{s}` is not an address: {e}"))
    };
    Ok(Email {
        transport: t.build(),
        from: mailbox("SMTP_FROM", from)?,
        to: to
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| mailbox("SMTP_TO", s))
            .collect::<Result<_, _>>()?,
        password,
    })
}

/// The channels `.env` and the config make, relative paths from `base`.
pub fn from_config(cfg: &AlertsConfig, env: &AlertSecrets, base: &std::path::Path) -> Channels {
    let timeout = Duration::from_millis(cfg.timeout_ms.max(1));
    let mut ready = Vec::new();
    let mut off = Vec::new();
    match (env.get("TELEGRAM_BOT_TOKEN"), env.get("TELEGRAM_CHAT_ID")) {
        (Some(token), Some(chat)) => ready.push(Configured {
            channel: Box::new(Telegram {
                url: format!(
                    "{}/bot{token}/sendMessage",
                    cfg.telegram.base_url.trim_end_matches('/')
                ),
                chat_id: chat.to_string(),
                token: token.to_string(),
                agent: crate::control::http_agent(timeout),
            }),
            events: kinds(&cfg.telegram.events),
        }),
        _ => off.push((
            "telegram",
            "TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID are not both set".to_string(),
        )),
    }
    match env.get("SLACK_WEBHOOK_URL") {
        Some(url) => ready.push(Configured {
            channel: Box::new(Slack {
                webhook: url.to_string(),
                agent: crate::control::http_agent(timeout),
            }),
            events: kinds(&cfg.slack.events),
        }),
        None => off.push(("slack", "SLACK_WEBHOOK_URL is not set".to_string())),
    }
    match email(cfg, env, base) {
        Ok(e) => ready.push(Configured {
            channel: Box::new(e),
            events: kinds(&cfg.email.events),
        }),
        Err(why) => off.push(("email", why)),
    }
    Channels { ready, off }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_taken_out_of_error_texts() {
        let e = "POST https://api.telegram.org/bot12345:SECRET/sendMessage: timed out".to_string();
        assert_eq!(
            redact(e, &["12345:SECRET"]),
            "POST https://api.telegram.org/bot<redacted>/sendMessage: timed out"
        );
    }

    #[test]
    fn a_clear_text_relay_must_be_on_this_machine() {
        let env = AlertSecrets::from_pairs([
            ("SMTP_HOST", "smtp.example.com"),
            ("SMTP_FROM", "a@example.com"),
            ("SMTP_TO", "b@example.com"),
        ]);
        let mut cfg = AlertsConfig::default();
        cfg.email.security = "none".into();
        let c = from_config(&cfg, &env, std::path::Path::new("."));
        assert!(c.ready.is_empty());
        assert!(c
            .off
            .iter()
            .any(|(n, why)| *n == "email" && why.contains("in clear")));
    }
}
