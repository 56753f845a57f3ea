// The socket.io chat tutorial's server (https://socket.io/docs/v4/tutorial/), as people run it:
// every "chat message" is broadcast to everyone but the sender. Websocket transport only, like the
// load tool. Usage: node server.js PORT
const { createServer } = require('node:http');
const { Server } = require('socket.io');

const port = Number(process.argv[2] || 3302);
const server = createServer();
const io = new Server(server, { transports: ['websocket'] });
io.on('connection', (socket) => {
  socket.on('chat message', (msg) => {
    socket.broadcast.emit('chat message', msg);
  });
});
server.listen(port, '127.0.0.1', () => console.log(`socket.io listening on 127.0.0.1:${port}`));
