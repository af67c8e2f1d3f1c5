package sqlstore

// FreshDB is freshDB for the conformance test, which is in package
// sqlstore_test because the suite imports package store, which imports
// this one.
var FreshDB = freshDB
