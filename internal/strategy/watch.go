package strategy

// Next returns a channel that is closed once a snapshot with a new
// Version is published. Any number of callers share it, and dropping it
// costs nothing, so each blocking query waits on it directly. Call Next
// before Snapshot: a publication in between then either shows in the
// snapshot or closes the channel.
func (r *Resolver) Next() <-chan struct{} { return r.published.Next() }
