//! The two kinds a Backend is served as (`Backend`, and agentgateway's `AgentgatewayBackend`)
//! and which one owns a name when both exist in one namespace.
//!
//! Both kinds program the same objects (`<name>-bundle`, `<name>-proxy`), so a `Backend` and an
//! `AgentgatewayBackend` with the same name would overwrite each other's Deployment on every
//! reconcile. [`owner`] decides, as a pure function both controllers (and the Gateway
//! controller) evaluate alike: the object created first owns the name; on a tie (same second,
//! or a timestamp missing) `Backend` wins. The other one is reported `Accepted=False`,
//! reason `NameConflict`, and programs nothing.
//!
//! Must not: read the API (callers fetch the objects) or decide anything about the spec.

use agw_crds::{AgentgatewayBackend, BACKEND_KINDS, Backend, BackendObject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt as _;

/// What the ownership rule looks at: the kind and when the object was created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claim<'a> {
    /// `Backend` or `AgentgatewayBackend`.
    pub kind: &'a str,
    /// `metadata.creationTimestamp`.
    pub created: Option<&'a Time>,
}

impl<'a> Claim<'a> {
    /// The claim of an object of either kind.
    pub fn of<K: BackendObject>(object: &'a K) -> Self {
        Self {
            kind: kind_name::<K>(),
            created: object.meta().creation_timestamp.as_ref(),
        }
    }
}

/// The kind name of `K`, as a `'static` str from [`BACKEND_KINDS`].
pub fn kind_name<K: BackendObject>() -> &'static str {
    let kind = K::kind(&());
    BACKEND_KINDS
        .into_iter()
        .find(|k| *k == kind)
        .unwrap_or(BACKEND_KINDS[0])
}

/// Whether `this` owns the name against `other`, an object of the other kind with the same
/// namespace and name (`None`: there is none).
pub fn owns(this: Claim<'_>, other: Option<Claim<'_>>) -> bool {
    let Some(other) = other else {
        return true;
    };
    owner(this, other) == this.kind
}

/// The kind owning a name both claims hold.
pub fn owner<'a>(a: Claim<'a>, b: Claim<'a>) -> &'a str {
    let rank = |c: &Claim<'_>| BACKEND_KINDS.iter().position(|k| *k == c.kind);
    match (a.created, b.created) {
        (Some(x), Some(y)) if x.0 < y.0 => a.kind,
        (Some(x), Some(y)) if y.0 < x.0 => b.kind,
        _ if rank(&a) <= rank(&b) => a.kind,
        _ => b.kind,
    }
}

/// The condition message of the object that does not own the name.
pub fn conflict_message(loser: &str, winner: &str, namespace: &str, name: &str) -> String {
    format!(
        "{winner} {namespace}/{name} has the same name and was created first (a tie goes to \
         Backend), so it owns the proxy objects {name}-bundle and {name}-proxy; this \
         {loser} programs nothing. Rename one of them or delete the other"
    )
}

/// An object of either kind (for the Gateway lookup, which resolves a name to its owner).
#[derive(Clone, Debug)]
pub enum Either {
    /// A `Backend`.
    Backend(Backend),
    /// An `AgentgatewayBackend`.
    Agentgateway(AgentgatewayBackend),
}

impl Either {
    /// Its claim.
    pub fn claim(&self) -> Claim<'_> {
        match self {
            Self::Backend(b) => Claim::of(b),
            Self::Agentgateway(b) => Claim::of(b),
        }
    }

    /// Its spec.
    pub fn spec(&self) -> &agw_crds::BackendSpec {
        match self {
            Self::Backend(b) => b.backend_spec(),
            Self::Agentgateway(b) => b.backend_spec(),
        }
    }

    /// Its generation.
    pub fn generation(&self) -> Option<i64> {
        match self {
            Self::Backend(b) => b.metadata.generation,
            Self::Agentgateway(b) => b.metadata.generation,
        }
    }

    /// `namespace/name`.
    pub fn key(&self) -> String {
        let (ns, name) = match self {
            Self::Backend(b) => (b.namespace(), b.name_any()),
            Self::Agentgateway(b) => (b.namespace(), b.name_any()),
        };
        format!("{}/{name}", ns.unwrap_or_default())
    }
}

/// The kind of an [`Either`].
pub fn kind_of(object: &Either) -> &'static str {
    match object {
        Either::Backend(_) => kind_name::<Backend>(),
        Either::Agentgateway(_) => kind_name::<AgentgatewayBackend>(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(seconds).unwrap_or_default())
    }

    const B: &str = "Backend";
    const A: &str = "AgentgatewayBackend";

    #[test]
    fn the_older_object_owns_the_name_whatever_its_kind() {
        let (old, new) = (at(100), at(200));
        let backend = |t| Claim {
            kind: B,
            created: Some(t),
        };
        let agbe = |t| Claim {
            kind: A,
            created: Some(t),
        };
        assert_eq!(owner(agbe(&old), backend(&new)), A);
        assert_eq!(owner(backend(&new), agbe(&old)), A);
        assert_eq!(owner(backend(&old), agbe(&new)), B);
        assert!(owns(agbe(&old), Some(backend(&new))));
        assert!(!owns(backend(&new), Some(agbe(&old))));
    }

    #[test]
    fn a_tie_or_a_missing_timestamp_goes_to_backend_from_both_sides() {
        let same = at(100);
        for (a, b) in [
            (Some(&same), Some(&same)),
            (None, Some(&same)),
            (None, None),
        ] {
            let backend = Claim {
                kind: B,
                created: a,
            };
            let agbe = Claim {
                kind: A,
                created: b,
            };
            assert_eq!(owner(backend, agbe), B);
            assert_eq!(owner(agbe, backend), B);
            assert!(owns(backend, Some(agbe)) && !owns(agbe, Some(backend)));
        }
    }

    #[test]
    fn without_a_namesake_an_object_owns_its_name() {
        assert!(owns(
            Claim {
                kind: A,
                created: None
            },
            None
        ));
    }
}
