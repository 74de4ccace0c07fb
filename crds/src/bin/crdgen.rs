//! Prints a CRD: the Backend CRD by default (`crds/backend.yaml`), the AgentgatewayBackend CRD
//! with the argument `agentgatewaybackend` (`crds/agentgatewaybackend.yaml`), the
//! AgentgatewayPolicy CRD with `agentgatewaypolicy` (`crds/agentgatewaypolicy.yaml`). Drift tests
//! compare both with the checked-in files.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let yaml = match std::env::args().nth(1).as_deref() {
        None | Some("backend") => agw_crds::backend_crd_yaml()?,
        Some("agentgatewaybackend") => agw_crds::agentgateway_backend_crd_yaml()?,
        Some("agentgatewaypolicy") => agw_crds::agentgateway_policy_crd_yaml()?,
        Some(other) => {
            return Err(format!(
                "unknown CRD {other:?}; use backend, agentgatewaybackend or agentgatewaypolicy"
            )
            .into());
        }
    };
    print!("{yaml}");
    Ok(())
}
