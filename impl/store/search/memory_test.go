package search_test

import (
	"testing"

	"github.com/bun13/bun13/impl/store/search"
	"github.com/bun13/bun13/impl/store/search/searchtest"
)

func TestMemoryConformance(t *testing.T) {
	searchtest.Run(t, func(*testing.T) search.Index { return &search.Memory{} })
}
