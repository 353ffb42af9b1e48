//! The client side of the proxies (run by health authorities): their HTTP API ([`api`], the
//! wire types the proxy server also uses), an HTTPS client ([`ProxyClient`]) and how it knows
//! it talks to the health authority it means ([`tls`]).

pub mod api;
mod client;
pub mod tls;

pub use client::{ProxyClient, ProxyError};
