//! Placeholder: the merge iterator (owned by the iterator work).
