package directory

// Mailbox is a source mailbox as read from the source forest: in the hybrid shape an on-premises
// remote mailbox whose mailbox lives in the source tenant. Raw GUID bytes are kept as read, so
// the mapper can report a malformed value instead of the reader dropping it.
type Mailbox struct {
	DN               string
	ObjectGUID       GUID
	SAMAccountName   string
	UPN              string
	Mail             string
	Alias            string // mailNickname
	DisplayName      string
	GivenName        string
	Surname          string
	CN               string
	LegacyExchangeDN string
	MailboxGUID      []byte // msExchMailboxGuid, AD byte order, as read
	ArchiveGUID      []byte // msExchArchiveGUID, AD byte order, as read
	Proxies          []Proxy
	TargetAddress    string
	TypeDetails      int64
	DisplayType      int64
	RemoteType       int64
	HasTypeDetails   bool

	ELCMailboxFlags    string // decimal, "" when absent
	LitigationHoldDate string
	UserHoldPolicies   []string
	Hashes             map[string]string // hash attribute -> base64 value, only those present

	PublicDelegates  []string // DNs this mailbox granted Send on Behalf to
	DelegateListLink []string // DNs with full access automapping to this mailbox

	// Scope notes how the mailbox entered the scope ("group", "filter", "group+filter").
	Scope string
}

// Group is a member of the scope group that is itself a group: Microsoft's move service does
// not expand nested groups, so their members are reported, never followed.
type Group struct {
	DN      string
	Members []string
}

// Scope is what the source reader found: the mailboxes in scope and what it left out.
type Scope struct {
	Mailboxes []Mailbox
	// NestedGroups are groups found among the scope group's direct members.
	NestedGroups []Group
	// Skipped are direct members of the scope group that are not mailboxes (contacts, computers,
	// users without Exchange attributes), by DN, with the reason.
	Skipped []Skipped
	// Referrals are the continuation references to other domains the server returned: objects
	// there were not read (references to the forest's own Configuration and DNS partitions,
	// which hold no mailboxes, are left out).
	Referrals []string
	// Elsewhere are direct members of the scope group outside the source base_dn (another
	// domain): not read, reported.
	Elsewhere []string
}

// Skipped is a scope member the reader did not turn into a mailbox.
type Skipped struct {
	DN     string
	Reason string
}
