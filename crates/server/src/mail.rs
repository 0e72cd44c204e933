//! Outgoing e-mail: SMTP when configured, otherwise (development only) one
//! RFC 5322 `.eml` file per message in the outbox folder. Sending happens in
//! the background, so a request that sends mail takes as long as one that
//! does not (register and forgot-password must not reveal which happened).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use tokio_util::task::TaskTracker;

use crate::config::Config;

#[derive(Clone)]
pub struct Mailer(Arc<Inner>);

struct Inner {
    transport: Transport,
    /// Mails still being sent, so that shutdown can wait for them.
    pending: TaskTracker,
    from: Mailbox,
    web_url: String,
}

enum Transport {
    Outbox(AsyncFileTransport<Tokio1Executor>, PathBuf),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

impl Mailer {
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let from: Mailbox = config
            .mail_from
            .parse()
            .context("RAMPART_MAIL_FROM is not a mailbox")?;
        let transport = match &config.smtp_url {
            Some(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
                    .context("RAMPART_SMTP_URL is not a valid SMTP URL")?
                    .build(),
            ),
            None => {
                let dir = config.outbox_dir();
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("creating the outbox folder {}", dir.display()))?;
                Transport::Outbox(AsyncFileTransport::new(&dir), dir)
            }
        };
        Ok(Self(Arc::new(Inner {
            transport,
            pending: TaskTracker::new(),
            from,
            web_url: config.public_web_url.trim_end_matches('/').to_owned(),
        })))
    }

    /// Waits (at most `limit`) for mails still being sent; called at shutdown
    /// so that a mail whose transaction committed is not dropped.
    pub async fn flush(&self, limit: std::time::Duration) {
        self.0.pending.close();
        if tokio::time::timeout(limit, self.0.pending.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                pending = self.0.pending.len(),
                "shutting down with mail still unsent"
            );
        }
    }

    /// Where development mail goes, if it goes to a folder.
    pub fn outbox(&self) -> Option<&PathBuf> {
        match &self.0.transport {
            Transport::Outbox(_, dir) => Some(dir),
            Transport::Smtp(_) => None,
        }
    }

    fn send(&self, to: &str, subject: &str, body: String) {
        let to: Mailbox = match to.parse() {
            Ok(to) => to,
            Err(_) => {
                tracing::warn!("not sending mail: the stored address is not a valid mailbox");
                return;
            }
        };
        let body = seven_bit(body);
        let message = Message::builder()
            .from(self.0.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body);
        let message = match message {
            Ok(message) => message,
            Err(error) => {
                tracing::error!(error = %error, "building a mail failed");
                return;
            }
        };
        let mailer = self.clone();
        let subject = subject.to_owned();
        self.0.pending.spawn(async move {
            let sent = match &mailer.0.transport {
                Transport::Outbox(outbox, _) => outbox
                    .send(message)
                    .await
                    .map(drop)
                    .map_err(anyhow::Error::from),
                Transport::Smtp(smtp) => smtp
                    .send(message)
                    .await
                    .map(drop)
                    .map_err(anyhow::Error::from),
            };
            match sent {
                // The subject says which kind of mail; the address stays out.
                Ok(()) => tracing::info!(subject, "mail sent"),
                Err(error) => {
                    tracing::error!(subject, error = format!("{error:#}"), "sending mail failed")
                }
            }
        });
    }
}

/// Our templates are ASCII with lines far below SMTP's 998-character limit,
/// so they go as plain 7-bit text, links whole (lettre would pick
/// quoted-printable for any line over 76 characters and break the links in
/// the .eml files a developer reads). Anything else gets lettre's choice.
fn seven_bit(text: String) -> Body {
    let fits = text.is_ascii() && !text.contains('\0') && text.lines().all(|line| line.len() < 998);
    if !fits {
        return Body::new(text);
    }
    let crlf = text.lines().collect::<Vec<_>>().join("\r\n") + "\r\n";
    Body::dangerous_pre_encoded(crlf.into_bytes(), ContentTransferEncoding::SevenBit)
}

impl Mailer {
    pub fn verify_email(&self, to: &str, token: &str) {
        let link = format!("{}/verify-email?token={token}", self.0.web_url);
        self.send(
            to,
            "Confirm your e-mail address for Rampart",
            format!(
                "Welcome to Rampart.\n\nOpen this link within 24 hours to confirm your address:\n\n{link}\n\n\
                 If you did not sign up, ignore this mail; nothing happens without the link.\n"
            ),
        );
    }

    pub fn someone_tried_to_register(&self, to: &str) {
        let link = format!("{}/forgot-password", self.0.web_url);
        self.send(
            to,
            "Someone tried to sign up for Rampart with your address",
            format!(
                "Somebody tried to create a Rampart account with this e-mail address, which already has one.\n\n\
                 If it was you, sign in instead; if you forgot your password, reset it here:\n\n{link}\n\n\
                 If it was not you, you need not do anything: your account is unchanged.\n"
            ),
        );
    }

    pub fn reset_password(&self, to: &str, token: &str) {
        let link = format!("{}/reset-password?token={token}", self.0.web_url);
        self.send(
            to,
            "Reset your Rampart password",
            format!(
                "Open this link within 30 minutes to choose a new password:\n\n{link}\n\n\
                 Resetting signs you out everywhere. If you did not ask for this, ignore this mail.\n"
            ),
        );
    }

    pub fn password_changed(&self, to: &str) {
        self.send(
            to,
            "Your Rampart password was changed",
            "The password of your Rampart account was just changed and your other sessions were ended.\n\n\
             If this was not you, reset your password at once and contact support.\n"
                .to_owned(),
        );
    }
}
