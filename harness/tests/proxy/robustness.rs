//! Bad input and load.
