package crdt

import "slices"

// strset is a sorted set of strings without duplicates. Functions returning a strset
// never share its backing array with an argument.

// strsetInsert adds s to ss in place and reports whether it was new.
func strsetInsert(ss *[]string, s string) bool {
	i, found := slices.BinarySearch(*ss, s)
	if found {
		return false
	}
	*ss = slices.Insert(*ss, i, s)
	return true
}

// strsetDelete removes s from ss in place and reports whether it was there.
func strsetDelete(ss *[]string, s string) bool {
	i, found := slices.BinarySearch(*ss, s)
	if !found {
		return false
	}
	*ss = slices.Delete(*ss, i, i+1)
	return true
}

func strsetHas(ss []string, s string) bool {
	_, found := slices.BinarySearch(ss, s)
	return found
}

// strsetUnion returns a ∪ b, minus the elements of without, in a new slice.
func strsetUnion(a, b, without []string) []string {
	if len(a)+len(b) == 0 {
		return nil
	}
	out := make([]string, 0, max(len(a), len(b)))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		var s string
		switch {
		case j == len(b) || (i < len(a) && a[i] < b[j]):
			s = a[i]
			i++
		case i == len(a) || b[j] < a[i]:
			s = b[j]
			j++
		default:
			s = a[i]
			i++
			j++
		}
		if len(without) == 0 || !strsetHas(without, s) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// strsetDisjoint reports whether a and b have no element in common.
func strsetDisjoint(a, b []string) bool {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			i++
		case b[j] < a[i]:
			j++
		default:
			return false
		}
	}
	return true
}

func cloneStrings(ss []string) []string {
	if len(ss) == 0 {
		return nil
	}
	return slices.Clone(ss)
}
