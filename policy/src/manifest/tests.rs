use std::fmt::Write as _;

use super::*;

const TUTORIAL: &str = r"
apiVersion: v1
kind: Secret
metadata:
  name: anthropic-secret
  namespace: agentgateway-system
type: Opaque
stringData:
  Authorization: ${ANTHROPIC_API_KEY}
---
apiVersion: agentgateway.dev/v1alpha1
kind: Backend
metadata:
  name: anthropic
  namespace: agentgateway-system
spec:
  ai:
    provider:
      anthropic: {}
  policies:
    ai:
      routes:
        '/v1/messages': Messages
        '*': Passthrough
    auth:
      secretRef:
        name: anthropic-secret
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: claude
";

fn env(name: &str) -> Option<String> {
    (name == "ANTHROPIC_API_KEY").then(|| "sk-test".to_owned())
}

#[test]
fn reads_backends_and_secrets_and_skips_the_rest() {
    let docs = parse_documents(TUTORIAL, env).expect("parses");
    assert_eq!(docs.backends.len(), 1);
    assert_eq!(docs.backends[0].name, "anthropic");
    assert_eq!(docs.backends[0].document, 2);
    let secret = docs
        .secret("agentgateway-system", "anthropic-secret")
        .expect("secret");
    assert_eq!(secret.data["Authorization"], "sk-test");
    assert_eq!(docs.skipped.len(), 1);
    assert!(docs.skipped[0].contains("HTTPRoute"));
}

#[test]
fn secret_debug_output_hides_values() {
    let docs = parse_documents(TUTORIAL, env).expect("parses");
    assert!(!format!("{:?}", docs.secrets).contains("sk-test"));
}

#[test]
fn unset_variable_names_itself_and_its_line() {
    let err = parse_documents(TUTORIAL, |_| None).expect_err("unset");
    assert_eq!(
        err.to_string(),
        "document 1, line 9: environment variable ANTHROPIC_API_KEY is not set (write ${ANTHROPIC_API_KEY:-default} for a default)"
    );
    let with_default = TUTORIAL.replace("${ANTHROPIC_API_KEY}", "${ANTHROPIC_API_KEY:-none}");
    assert!(parse_documents(&with_default, |_| None).is_ok());
}

#[test]
fn dollar_signs_in_patterns_survive() {
    let text = "apiVersion: v1\nkind: ConfigMap\ndata:\n  a: 'x$ $$ $1'\n";
    assert!(parse_documents(text, |_| None).is_ok());
    assert_eq!(
        expand_env("x$ $$ $1", 1, 1, &|_| None, Unset::Error).expect("expands"),
        "x$ $ $1"
    );
}

#[test]
fn data_is_base64_decoded() {
    let text = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata:\n  Authorization: c2stYW50LXRlc3Q=\n";
    let docs = parse_documents(text, |_| None).expect("parses");
    assert_eq!(docs.secrets[0].data["Authorization"], "sk-ant-test");
}

#[test]
fn syntax_errors_carry_document_line_and_column() {
    let text = "apiVersion: v1\nkind: ConfigMap\n---\napiVersion: agentgateway.dev/v1alpha1\nkind: Backend\nspec: [unclosed\n";
    let err = parse_documents(text, |_| None).expect_err("bad yaml");
    let message = err.to_string();
    assert!(message.starts_with("document 2 (line "), "{message}");
}

#[test]
fn billion_laughs_is_refused_quickly() {
    let mut text = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for (prev, next) in ('a'..'i').zip('b'..='i') {
        let refs = vec![format!("*{prev}"); 9].join(",");
        writeln!(text, "{next}: &{next} [{refs}]").expect("write to string");
    }
    let started = std::time::Instant::now();
    let err = parse_documents(&text, |_| None).expect_err("bomb");
    assert!(
        started.elapsed().as_secs() < 5,
        "took {:?}",
        started.elapsed()
    );
    assert!(matches!(err, ManifestError::Yaml { .. }), "{err}");
}

#[test]
fn deep_nesting_is_refused() {
    let text = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
    assert!(parse_documents(&text, |_| None).is_err());
    let text = format!("a: {}1{}", "[".repeat(100), "]".repeat(100));
    let err = parse_documents(&text, |_| None).expect_err("deep");
    assert!(
        err.to_string().contains("nesting") || err.to_string().contains("recursion"),
        "{err}"
    );
}

#[test]
fn binary_input_is_refused() {
    let err = parse_bytes(&[0x41, 0xff, 0xfe, 0x00], |_| None, Unset::Error).expect_err("binary");
    assert!(err.to_string().contains("not UTF-8"), "{err}");
}

#[test]
fn wrong_shape_names_the_field() {
    let text = "apiVersion: agentgateway.dev/v1alpha1\nkind: Backend\nmetadata: {name: b}\nspec:\n  ai: {}\n";
    let err = parse_documents(text, |_| None).expect_err("missing provider");
    assert!(err.to_string().contains("provider"), "{err}");
}

#[test]
fn comments_are_not_expanded() {
    let text = "# use ${VAR} here\napiVersion: v1\nkind: ConfigMap # and ${NOT_THIS}? it is a value comment\n";
    let err = parse_documents(text, |_| None).expect_err("value-line comment is expanded");
    assert!(err.to_string().contains("NOT_THIS"));
    assert!(parse_documents("# use ${VAR}\napiVersion: v1\nkind: ConfigMap\n", |_| None).is_ok());
}

#[test]
fn unset_variables_can_be_kept_for_offline_checks() {
    let docs = parse_bytes(TUTORIAL.as_bytes(), |_| None, Unset::KeepAsWritten).expect("parses");
    assert_eq!(
        docs.secrets[0].data["Authorization"],
        "${ANTHROPIC_API_KEY}"
    );
    let port = "apiVersion: v1\nkind: ConfigMap\ndata: {port: '${PORT:-443}'}\n";
    assert!(parse_bytes(port.as_bytes(), |_| None, Unset::KeepAsWritten).is_ok());
}
