package batch

// FormatVersion is the version of manifest.json.
const FormatVersion = "1"

// Manifest is the content of manifest.json: what each batch file holds and why, plus what
// was left out. Every list is present (possibly empty) and in the Result's order.
type Manifest struct {
	FormatVersion string             `json:"format_version"`
	BatchSize     int                `json:"batch_size"`
	Totals        Totals             `json:"totals"`
	Batches       []ManifestBatch    `json:"batches"`
	Oversized     []ManifestGroup    `json:"oversized"`
	Excluded      []ManifestExcluded `json:"excluded"`
	// Migrated are the mailboxes that have already moved: in no batch, not blocked.
	Migrated []ManifestExcluded `json:"migrated"`
}

// Totals count mailboxes and batches. Mailboxes = Batched + Excluded + Migrated.
type Totals struct {
	Mailboxes          int `json:"mailboxes"`
	Batched            int `json:"batched"`
	Batches            int `json:"batches"`
	Excluded           int `json:"excluded"`
	Migrated           int `json:"migrated"`
	OversizedGroups    int `json:"oversized_groups"`
	OversizedMailboxes int `json:"oversized_mailboxes"`
}

// ManifestBatch is one batch file.
type ManifestBatch struct {
	Name      string            `json:"name"`
	File      string            `json:"file"`
	Count     int               `json:"count"`
	Mailboxes []ManifestMailbox `json:"mailboxes"`
}

// ManifestMailbox is one row of a batch file, with its reasons.
type ManifestMailbox struct {
	ID      string   `json:"id"`
	Address string   `json:"address"`
	Alias   string   `json:"alias,omitempty"`
	Group   int      `json:"group"`
	Reasons []string `json:"reasons"`
}

// ManifestGroup is a delegation group too large for one batch.
type ManifestGroup struct {
	ID      int      `json:"id"`
	Size    int      `json:"size"`
	Kinds   []string `json:"kinds"`
	Members []string `json:"members"`
}

// ManifestExcluded is a mailbox in no batch.
type ManifestExcluded struct {
	ID      string   `json:"id"`
	Address string   `json:"address,omitempty"`
	Reason  string   `json:"reason"`
	Group   int      `json:"group,omitempty"`
	Members []string `json:"members,omitempty"`
}

// NewManifest describes r. It is what WriteFiles writes to manifest.json.
func NewManifest(r *Result) Manifest {
	m := Manifest{
		FormatVersion: FormatVersion,
		BatchSize:     r.Size,
		Batches:       make([]ManifestBatch, 0, len(r.Batches)),
		Oversized:     make([]ManifestGroup, 0, len(r.Oversized)),
		Excluded:      make([]ManifestExcluded, 0, len(r.Excluded)),
		Migrated:      make([]ManifestExcluded, 0, len(r.Migrated)),
	}
	for _, b := range r.Batches {
		mb := ManifestBatch{Name: b.Name, File: b.Name + ".csv", Count: len(b.Members),
			Mailboxes: make([]ManifestMailbox, 0, len(b.Members))}
		for _, x := range b.Members {
			mb.Mailboxes = append(mb.Mailboxes, ManifestMailbox{ID: x.ID, Address: x.Address, Alias: x.Alias,
				Group: x.Group, Reasons: nonNil(x.Reasons)})
		}
		m.Batches = append(m.Batches, mb)
		m.Totals.Batched += len(b.Members)
	}
	for _, g := range r.Oversized {
		m.Oversized = append(m.Oversized, ManifestGroup{ID: g.ID, Size: g.Size, Kinds: nonNil(g.Kinds),
			Members: nonNil(g.Members)})
		m.Totals.OversizedMailboxes += len(g.Members)
	}
	for _, e := range r.Excluded {
		m.Excluded = append(m.Excluded, ManifestExcluded(e))
	}
	for _, e := range r.Migrated {
		m.Migrated = append(m.Migrated, ManifestExcluded(e))
	}
	m.Totals.Batches = len(r.Batches)
	m.Totals.Excluded = len(r.Excluded)
	m.Totals.Migrated = len(r.Migrated)
	m.Totals.OversizedGroups = len(r.Oversized)
	m.Totals.Mailboxes = m.Totals.Batched + m.Totals.Excluded + m.Totals.Migrated
	return m
}

// nonNil makes a nil list encode as [] rather than null.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
