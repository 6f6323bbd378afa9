//! The store's tests: the API with exact counts (`api`), recovery from files cut and
//! damaged by hand (`recovery`), and the seeded fault property over `SimDisk` (`faults`).
