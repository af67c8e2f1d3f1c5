package strictjson

// keySet remembers an object's keys: in a slice while there are few, in a
// map past that, so a large map stays linear.
type keySet struct {
	few  [][]byte
	many map[string]struct{}
}

const fewKeys = 16

// add records key and reports whether it was already there.
func (k *keySet) add(key []byte) bool {
	if k.many != nil {
		if _, dup := k.many[string(key)]; dup {
			return true
		}
		k.many[string(key)] = struct{}{}
		return false
	}
	for _, seen := range k.few {
		if string(seen) == string(key) {
			return true
		}
	}
	if len(k.few) < fewKeys {
		k.few = append(k.few, key)
		return false
	}
	k.many = make(map[string]struct{}, 2*fewKeys)
	for _, seen := range k.few {
		k.many[string(seen)] = struct{}{}
	}
	k.many[string(key)] = struct{}{}
	return false
}
