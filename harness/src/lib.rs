//! shakedown: the chaos-testing engine.
#![forbid(unsafe_code)]
