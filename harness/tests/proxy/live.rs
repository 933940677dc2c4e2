//! No byte lost or reordered while toxics churn on live streams.
