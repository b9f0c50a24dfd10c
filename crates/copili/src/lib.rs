//! copili library facade.
