// Package directory holds xtmsyncd's domain: the source mailbox and the target MailUser as
// plain data, Exchange GUIDs in Active Directory's byte order, proxy addresses, the attribute
// names the product reads and writes, and the sentinel errors every layer shares.
//
// It performs no I/O and imports only the standard library.
package directory
