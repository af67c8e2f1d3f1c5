-- Each node's last known pod metadata (kube.EncodePods: UIDs, names,
-- namespaces, labels, container IDs and names), so a server started while
-- the Kubernetes API server cannot be reached still resolves selector
-- strategies. One row per node (nodes sharing the database each keep
-- theirs), replaced when the node's pods change. saved_at is in Unix
-- nanoseconds.
CREATE TABLE pod_records (
    node     TEXT   NOT NULL PRIMARY KEY,
    data     BYTEA  NOT NULL,
    saved_at BIGINT NOT NULL
);
