//! toxiproxy_rust 0.1.6 against the proxy.
