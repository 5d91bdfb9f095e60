package pgsearch

import (
	"context"

	"github.com/bun13/bun13/impl/store/docs"
	"github.com/bun13/bun13/impl/store/docs/pgdocs"
	"github.com/bun13/bun13/impl/store/search"
	"github.com/jackc/pgx/v5"
)

// Indexed is a pgdocs.Store whose every Put also brings the search entry
// of the document (search.FromDocument) up to date in the document's own
// transaction: a registry document and its search entry commit together
// or not at all, whichever replica writes. Documents that are not
// registry documents are stored without an entry.
type Indexed struct {
	*pgdocs.Store
}

var _ docs.Store = Indexed{}

// Put implements docs.Store.
func (x Indexed) Put(ctx context.Context, name string, doc []byte, expected docs.Rev) (docs.Rev, error) {
	e, live, err := search.FromDocument(doc)
	if err != nil {
		return x.Store.Put(ctx, name, doc, expected)
	}
	return x.PutTx(ctx, name, doc, expected, func(ctx context.Context, tx pgx.Tx) error {
		if live {
			return UpdateIn(ctx, tx, e)
		}
		return RemoveIn(ctx, tx, name)
	})
}
