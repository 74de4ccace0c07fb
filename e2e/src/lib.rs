//! Black-box test support: control plane, mock upstream, real clients, pod stand-in.
#![forbid(unsafe_code)]
