//! The cluster dashboard (pycos's httpd): an HTTP server showing a cluster client's
//! nodes and jobs live, with a JSON API behind the page.
