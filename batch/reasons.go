package batch

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// ReasonNoLinks is the reason of a mailbox without any delegation link.
const ReasonNoLinks = "no delegation links"

// maxListed caps the addresses named in a group reason, so that a large group costs
// O(members) and not O(members²) in the manifest.
const maxListed = 10

// kindRank orders the known kinds first, in the order the reasons name them.
var kindRank = map[string]int{KindPublicDelegates: 0, KindDelegateListLink: 1}

// addKind adds kind to the set ks.
func addKind(ks []string, kind string) []string {
	if slices.Contains(ks, kind) {
		return ks
	}
	return append(ks, kind)
}

// sortKinds orders kinds: publicDelegates, msExchDelegateListLink, then the others by name.
func sortKinds(ks []string) {
	slices.SortFunc(ks, func(a, b string) int {
		ra, oka := kindRank[a]
		rb, okb := kindRank[b]
		if !oka {
			ra = len(kindRank)
		}
		if !okb {
			rb = len(kindRank)
		}
		return cmp.Or(cmp.Compare(ra, rb), cmp.Compare(a, b))
	})
}

// outLink is an edge from an item (member) to an ID that is not an item.
type outLink struct {
	member  int
	key, id string // folded and original spelling of the outside ID
	kind    string
	moved   bool // the outside ID is a mailbox that has already moved (Options.Migrated)
}

// outsideReasons turns the out-of-scope edges into one reason per (item, outside ID), in
// the order of the outside IDs. An ID spelled in several ways is named by its smallest
// spelling, so that the text does not depend on the order of the edges.
func outsideReasons(out []outLink) map[int][]string {
	if len(out) == 0 {
		return nil
	}
	slices.SortFunc(out, func(a, b outLink) int {
		return cmp.Or(cmp.Compare(a.member, b.member), cmp.Compare(a.key, b.key), cmp.Compare(a.id, b.id))
	})
	reasons := make(map[int][]string)
	for lo := 0; lo < len(out); {
		hi := lo + 1
		for hi < len(out) && out[hi].member == out[lo].member && out[hi].key == out[lo].key {
			hi++
		}
		var kinds []string
		for _, l := range out[lo:hi] {
			kinds = addKind(kinds, l.kind)
		}
		sortKinds(kinds)
		m := out[lo].member
		reason := outsideReason(out[lo].id, kinds)
		if out[lo].moved {
			reason = movedReason(out[lo].id, kinds)
		}
		reasons[m] = append(reasons[m], reason)
		lo = hi
	}
	return reasons
}

// outsideReason explains a delegation link that leaves the export.
func outsideReason(id string, kinds []string) string {
	return fmt.Sprintf("delegate %s is not in this export (blocked or out of scope): "+
		"permissions to it will break after the move (%s)", id, strings.Join(kinds, ", "))
}

// movedReason explains a delegation link to a mailbox that has already moved.
func movedReason(id string, kinds []string) string {
	return fmt.Sprintf("delegate %s has already moved (migrated, in no batch): "+
		"check the permissions between them once this mailbox has moved too (%s)", id, strings.Join(kinds, ", "))
}

// memberReasons explains why item i is where it is: its group, then its links that leave
// the export.
func memberReasons(comp *component, i int, x *index, outside []string) []string {
	if len(comp.members) == 1 {
		if len(outside) == 0 {
			return []string{ReasonNoLinks}
		}
		return slices.Clone(outside)
	}
	r := make([]string, 0, 1+len(outside))
	r = append(r, groupReason(comp, i, x))
	return append(r, outside...)
}

// groupReason names the other members of i's group (at most maxListed, in address order)
// and the kinds of links that hold the group together.
func groupReason(comp *component, i int, x *index) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "delegation group of %d: with ", len(comp.members))
	listed := 0
	for _, j := range comp.members {
		if j == i {
			continue
		}
		if listed == maxListed {
			break
		}
		if listed > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(x.items[j].Address)
		listed++
	}
	if more := len(comp.members) - 1 - listed; more > 0 {
		fmt.Fprintf(&sb, " and %d more", more)
	}
	fmt.Fprintf(&sb, " (%s)", strings.Join(comp.kinds, ", "))
	return sb.String()
}

// oversizedReason explains why the members of a group larger than the batch size are left out.
func oversizedReason(comp *component, size int) string {
	hint := "reduce its delegations and plan again"
	if len(comp.members) <= MaxSize {
		hint = fmt.Sprintf("raise the batch size to at least %d or reduce its delegations, and plan again",
			len(comp.members))
	}
	return fmt.Sprintf("delegation group %d of %d mailboxes exceeds the batch size of %d and is never split "+
		"(cross-tenant permissions would break): %s", comp.id, len(comp.members), size, hint)
}
