//! The command driver: an argv template (kubectl, helm, Argo Rollouts) run
//! without a shell, then the same verification as the http driver.

use std::time::Duration;

use super::argv::{self, Placeholders};
use super::{DriverFailure, DriverReport, DriverRequest, Phase};
use crate::config::EnvironmentConfig;
use crate::playbook::PlaybookClient;

/// Rolls back by running a configured program.
#[derive(Debug, Clone)]
pub struct CommandDriver {
    /// The template; config validation guarantees it is non-empty.
    argv: Vec<String>,
    /// Reads status and health for verification.
    client: PlaybookClient,
    /// Bounds the command's run and, separately, the verification.
    verify_timeout: Duration,
}

impl CommandDriver {
    /// The command driver of an environment.
    pub fn new(env: &EnvironmentConfig) -> Self {
        CommandDriver {
            argv: env.driver.argv.as_ref().map(|a| a.get_ref().clone()).unwrap_or_default(),
            client: PlaybookClient::new(env.endpoints(), env.timeout.get()),
            verify_timeout: env.driver.verify_timeout.get(),
        }
    }

    /// The program (`argv[0]`) exists and can be executed.
    pub fn check_reachable(&self) -> Result<(), String> {
        match self.argv.first() {
            Some(program) => argv::find_program(program),
            None => Err("driver type \"command\" has no argv; set [environment.driver] argv".to_string()),
        }
    }

    /// Longest a rollback through this driver can take: the command, then the
    /// verification, each bounded by `verify_timeout`.
    pub fn lease(&self) -> Duration {
        super::lease_for(crate::config::DriverKind::Command, Duration::ZERO, self.verify_timeout)
    }

    /// Runs the command; on exit 0, waits for the target to be current and healthy.
    pub async fn roll_back(
        &self,
        req: &DriverRequest,
        on_phase: &mut dyn FnMut(Phase),
    ) -> Result<DriverReport, DriverFailure> {
        // Checked before any phase is reported: a refused value means nothing ran.
        let values = Placeholders::for_request(req);
        let argv = argv::substitute(&self.argv, &values)?;
        on_phase(Phase::Requested);
        let output = argv::run_to_success(&argv, self.verify_timeout).await?;
        on_phase(Phase::Switching);
        on_phase(Phase::VerifyingHealth);
        let verified = super::verify(&self.client, req.target_version.as_deref(), self.verify_timeout).await.map_err(
            |message| DriverFailure {
                message: format!("the command exited 0 but {message}"),
                ambiguous: false,
                stale_plan: false,
                refused: false,
            },
        )?;
        Ok(DriverReport { answer: output.summary(), verified, flag: None })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::sim::{Scenario, ServiceKind, ServiceSpec, SimOptions, Timings};

    fn driver(base: &str, argv: &str) -> CommandDriver {
        let text = format!(
            "[[environment]]\nname = \"search\"\nkind = \"standard\"\nbase_url = \"{base}\"\n\
             [environment.driver]\ntype = \"command\"\nargv = {argv}\nverify_timeout = \"2s\"\n"
        );
        let config = Config::from_toml(&text, std::path::Path::new("t.toml")).unwrap();
        CommandDriver::new(&config.environments[0])
    }

    fn request(target: Option<&str>) -> DriverRequest {
        DriverRequest {
            environment: "search".into(),
            target_version: target.map(str::to_string),
            request_version: target.map(str::to_string),
            previous_version: Some("1.4.3".into()),
            reason: "errors".into(),
            restore: None,
            target_revision: None,
        }
    }

    #[tokio::test]
    async fn without_a_target_only_health_is_verified() {
        let sim = crate::sim::spawn(SimOptions {
            services: vec![ServiceSpec::new("search", ServiceKind::Standard, Scenario::Steady)],
            timings: Timings::default(),
            seed: None,
        })
        .unwrap();
        let d = driver(&sim.base_url("search"), r#"["sh", "-c", "echo rolled {env} back", "{env}"]"#);
        assert_eq!(d.check_reachable(), Ok(()));
        let mut phases = Vec::new();
        let report = d.roll_back(&request(None), &mut |p| phases.push(p)).await.unwrap();
        assert_eq!(phases, [Phase::Requested, Phase::Switching, Phase::VerifyingHealth]);
        assert_eq!(report.answer, "exit 0; stdout: rolled search back; stderr: (empty)");
        assert!(report.verified.starts_with("healthy"), "{}", report.verified);

        // A target the service never reaches fails verification after exit 0.
        let e = d.roll_back(&request(Some("1.4.1")), &mut |_| {}).await.unwrap_err();
        assert!(e.message.starts_with("the command exited 0 but not verified within 2s"), "{}", e.message);
    }

    #[tokio::test]
    async fn a_bad_version_is_refused_before_anything_runs() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("ran");
        let argv = format!(r#"["touch", "{}", "{{version}}"]"#, marker.display());
        let d = driver("http://127.0.0.1:9", &argv);
        let mut phases = Vec::new();
        let e = d.roll_back(&request(Some("1.0;reboot")), &mut |p| phases.push(p)).await.unwrap_err();
        assert!(!e.ambiguous);
        assert!(e.message.contains("\"1.0;reboot\""), "{}", e.message);
        assert!(phases.is_empty() && !marker.exists(), "nothing ran");
        assert!(driver("http://127.0.0.1:9", r#"["backout-no-such-tool"]"#).check_reachable().is_err());
    }
}
