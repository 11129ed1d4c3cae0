package httpapi

import (
	"context"

	"workspace"
)

// The admin monitoring endpoints: the seed's monitoring queries. A report
// the engine cannot give answers 200 with available:false and a reason.

// DBConnectionsOutput answers GET /api/v1/admin/db/connections.
type DBConnectionsOutput struct{ Body *workspace.ConnectionsReport }

// DBTablesOutput answers GET /api/v1/admin/db/tables.
type DBTablesOutput struct{ Body *workspace.TablesReport }

// DBSlowQueriesOutput answers GET /api/v1/admin/db/slow-queries.
type DBSlowQueriesOutput struct{ Body *workspace.SlowQueriesReport }

// DBIndexUsageOutput answers GET /api/v1/admin/db/index-usage.
type DBIndexUsageOutput struct{ Body *workspace.IndexUsageReport }

func (s *Server) handleAdminDBConnections(ctx context.Context, _ *struct{}) (*DBConnectionsOutput, error) {
	r, err := s.Store.DBConnections(ctx)
	if err != nil {
		return nil, s.Error(ctx, err)
	}
	return &DBConnectionsOutput{Body: r}, nil
}

func (s *Server) handleAdminDBTables(ctx context.Context, _ *struct{}) (*DBTablesOutput, error) {
	r, err := s.Store.DBTables(ctx)
	if err != nil {
		return nil, s.Error(ctx, err)
	}
	return &DBTablesOutput{Body: r}, nil
}

func (s *Server) handleAdminDBSlowQueries(ctx context.Context, _ *struct{}) (*DBSlowQueriesOutput, error) {
	r, err := s.Store.DBSlowQueries(ctx)
	if err != nil {
		return nil, s.Error(ctx, err)
	}
	return &DBSlowQueriesOutput{Body: r}, nil
}

func (s *Server) handleAdminDBIndexUsage(ctx context.Context, _ *struct{}) (*DBIndexUsageOutput, error) {
	r, err := s.Store.DBIndexUsage(ctx)
	if err != nil {
		return nil, s.Error(ctx, err)
	}
	return &DBIndexUsageOutput{Body: r}, nil
}
