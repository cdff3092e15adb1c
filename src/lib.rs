//! The napi binding (filled in next).
