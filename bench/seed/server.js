// The socket.io 1.2.0 chat tutorial as it was published (the page chinwag replaces): Express serves
// index.html, socket.io serves its own client, and every "chat message" goes to everyone. jQuery
// 1.11.1 is served from the npm package instead of code.jquery.com, so the page loads the same bytes
// with no network. package.json overrides two of socket.io-client 1.2.0's dependencies that it names
// by GitHub tarball (unreachable here) with the same code from the registry; the browser bundle
// uses neither. Usage: node server.js PORT
var app = require('express')();
var http = require('http').Server(app);
var io = require('socket.io')(http);

app.get('/', function (req, res) {
  res.sendFile(__dirname + '/index.html');
});
app.get('/jquery-1.11.1.js', function (req, res) {
  res.sendFile(require.resolve('jquery/dist/jquery.js'));
});

io.on('connection', function (socket) {
  socket.on('chat message', function (msg) {
    io.emit('chat message', msg);
  });
});

var port = Number(process.argv[2] || 3303);
http.listen(port, '127.0.0.1', function () {
  console.log('seed tutorial listening on 127.0.0.1:' + port);
});
