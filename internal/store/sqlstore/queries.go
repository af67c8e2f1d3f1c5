package sqlstore

// queries is the SQL both databases run, bound for one of them at Open.
type queries struct {
	// Metric rows. On a shared database each takes the node first.
	rangeMetrics string // since, until, limit
	latestMetric string
	retainAge    string // cutoff
	retainCount  string // offset (node twice when shared)
	trimOldest   string // offset: deletes the oldest offset+1 rows (node twice when shared)
	countRows    string

	// The count of metric rows (metric_counts), by node: '' on a database
	// of one node.
	countAdd     string // node, added; returns the new count
	countSub     string // deleted, node
	countSet     string // node, count
	countSamples string // node

	version         string
	bumpVersion     string // returns the new version
	listStrategies  string // name, body of each
	namedStrategy   string // name
	insertStrategy  string // position, name, body
	updateStrategy  string // body, name
	countStrategies string // count, next position
	clearStrategies string
	deleteStrategy  string // name
	announce        string // channel, version; "" unless shared

	getSecret string // name
	addSecret string // name, value, created_at; does nothing if the name exists

	loadPods string // node
	savePods string // node, data, saved_at; replaces the node's row
}

func buildQueries(d dialect, sampleColumns string, shared bool) queries {
	node := "" // a shared database scopes metric rows to the node
	latestWhere := ""
	if shared {
		node = "node = ? AND "
		latestWhere = " WHERE node = ?"
	}
	selectMetrics := "SELECT received_at, " + sampleColumns + " FROM metrics"
	q := queries{
		rangeMetrics: selectMetrics + " WHERE " + node + "received_at >= ? AND received_at < ? ORDER BY received_at LIMIT ?",
		latestMetric: selectMetrics + latestWhere + " ORDER BY received_at DESC LIMIT 1",
		retainAge:    "DELETE FROM metrics WHERE " + node + "received_at < ?",
		retainCount: "DELETE FROM metrics WHERE " + node + "received_at < (SELECT received_at FROM metrics" + latestWhere +
			" ORDER BY received_at DESC LIMIT 1 OFFSET ?)",
		trimOldest: "DELETE FROM metrics WHERE " + node + "received_at <= (SELECT received_at FROM metrics" + latestWhere +
			" ORDER BY received_at LIMIT 1 OFFSET ?)",
		countRows: "SELECT count(*) FROM metrics" + latestWhere,
		countAdd: `INSERT INTO metric_counts (node, samples) VALUES (?, ?)
			ON CONFLICT (node) DO UPDATE SET samples = metric_counts.samples + excluded.samples RETURNING samples`,
		countSub:     `UPDATE metric_counts SET samples = samples - ? WHERE node = ?`,
		countSamples: `SELECT samples FROM metric_counts WHERE node = ?`,
		countSet:     `INSERT INTO metric_counts (node, samples) VALUES (?, ?) ON CONFLICT (node) DO UPDATE SET samples = excluded.samples`,

		version:         `SELECT value FROM counters WHERE name = 'strategies_version'`,
		bumpVersion:     `UPDATE counters SET value = value + 1 WHERE name = 'strategies_version' RETURNING value`,
		listStrategies:  `SELECT name, body FROM strategies ORDER BY position`,
		namedStrategy:   `SELECT body FROM strategies WHERE name = ?`,
		insertStrategy:  `INSERT INTO strategies (position, name, body) VALUES (?, ?, ?)`,
		updateStrategy:  `UPDATE strategies SET body = ? WHERE name = ?`,
		countStrategies: `SELECT count(*), coalesce(max(position), -1) + 1 FROM strategies`,
		clearStrategies: `DELETE FROM strategies`,
		deleteStrategy:  `DELETE FROM strategies WHERE name = ?`,

		getSecret: `SELECT value FROM secrets WHERE name = ?`,
		addSecret: `INSERT INTO secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`,

		loadPods: `SELECT data, saved_at FROM pod_records WHERE node = ?`,
		savePods: `INSERT INTO pod_records (node, data, saved_at) VALUES (?, ?, ?)
			ON CONFLICT (node) DO UPDATE SET data = excluded.data, saved_at = excluded.saved_at`,
	}
	if shared {
		q.announce = `SELECT pg_notify(?, ?)`
	}
	for _, s := range []*string{&q.rangeMetrics, &q.latestMetric, &q.retainAge, &q.retainCount, &q.trimOldest, &q.countRows,
		&q.countAdd, &q.countSub, &q.countSet, &q.countSamples,
		&q.namedStrategy, &q.insertStrategy, &q.updateStrategy, &q.deleteStrategy, &q.announce, &q.getSecret, &q.addSecret,
		&q.loadPods, &q.savePods} {
		*s = d.bind(*s)
	}
	return q
}
